"""An S3 bucket through boto3 (the `s3` extra), with a bounded probe and a diagnosis of what is wrong.

Triton itself hangs about 52 s on an endpoint where nothing listens, and says the same thing for a
missing bucket and a refused secret; `open_store` tells these apart in a few seconds, before any
server starts. Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, the shared files), never from tritonkit's flags, and never appear in a message.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tritonkit.errors import RepositoryError, StorageAccessError, StorageUnavailableError, import_optional
from tritonkit.repository.remote import RemoteURI, require_s3

CONNECT_TIMEOUT = 3.0  # seconds: the bounded probe of the endpoint
READ_TIMEOUT = 20.0
SHA256_META = "tritonkit-sha256"  # object metadata (x-amz-meta-tritonkit-sha256): the file's sha256
CREDENTIALS_HINT = "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
_REFUSED = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}


@dataclass(frozen=True)
class RemoteObject:
    """One object: its key, size, ETag (quotes removed), last-modified time, and metadata if read."""

    key: str
    size: int
    etag: str
    modified: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str | None:
        return self.metadata.get(SHA256_META)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def probe_endpoint(uri: RemoteURI, timeout: float = CONNECT_TIMEOUT) -> None:
    """A bounded TCP connect to the endpoint; StorageUnavailableError when nothing answers."""
    if uri.endpoint is None:
        host, port = f"s3.{_region()}.amazonaws.com", 443
    else:
        host, _, port_text = uri.endpoint.rpartition(":")
        port = int(port_text)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise StorageUnavailableError(
            f"cannot reach the object-storage endpoint {host}:{port} ({reason})",
            hint="start the S3 server or fix host:port in the URI (s3://host:port/bucket/prefix)",
        ) from exc


class S3Store:
    """The objects of one bucket; create it with `open_store` (which checks it can be used)."""

    def __init__(self, uri: RemoteURI, client: Any) -> None:
        self.uri = uri
        self.client = client

    def list(self, prefix: str = "") -> dict[str, RemoteObject]:
        """Every object under `prefix` (a key prefix; "/" is added for a non-empty one), by key."""
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        objects: dict[str, RemoteObject] = {}
        with translate(self.uri):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.uri.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    objects[item["Key"]] = RemoteObject(
                        item["Key"], int(item["Size"]), item["ETag"].strip('"'), item.get("LastModified")
                    )
        return objects

    def head(self, key: str) -> RemoteObject | None:
        """The object with its metadata, or None when it does not exist."""
        from botocore.exceptions import ClientError

        try:
            with translate(self.uri):
                answer = self.client.head_object(Bucket=self.uri.bucket, Key=key)
        except StorageAccessError as exc:
            if isinstance(exc.__cause__, ClientError) and _code(exc.__cause__) in ("404", "NoSuchKey"):
                return None
            raise
        return RemoteObject(
            key,
            int(answer["ContentLength"]),
            answer["ETag"].strip('"'),
            answer.get("LastModified"),
            dict(answer.get("Metadata") or {}),
        )

    def upload_file(
        self, path: Path, key: str, *, sha256: str, callback: Callable[[int], None] | None = None
    ) -> None:
        """Upload one file (multipart above 8 MiB: the object appears only once complete)."""
        with translate(self.uri):
            self.client.upload_file(
                str(path),
                self.uri.bucket,
                key,
                ExtraArgs={"Metadata": {SHA256_META: sha256}},
                Callback=callback,
            )

    def put_bytes(self, key: str, data: bytes, *, sha256: str) -> None:
        with translate(self.uri):
            self.client.put_object(Bucket=self.uri.bucket, Key=key, Body=data, Metadata={SHA256_META: sha256})

    def get_bytes(self, key: str) -> bytes:
        with translate(self.uri):
            return bytes(self.client.get_object(Bucket=self.uri.bucket, Key=key)["Body"].read())

    def download_file(self, key: str, path: Path) -> None:
        with translate(self.uri):
            self.client.download_file(self.uri.bucket, key, str(path))


def _code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class translate:
    """Turn botocore's exceptions into tritonkit's (a context manager); secrets never reach a message."""

    def __init__(self, uri: RemoteURI) -> None:
        self.uri = uri

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if exc is None:
            return
        from botocore import exceptions as bex

        where = str(replace(self.uri, prefix=""))
        if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
            raise StorageAccessError(
                f"no S3 credentials for {where}", hint=f"set them: {CREDENTIALS_HINT}"
            ) from exc
        if isinstance(exc, bex.EndpointConnectionError | bex.ConnectTimeoutError | bex.ReadTimeoutError):
            raise StorageUnavailableError(
                f"the object-storage endpoint of {where} did not answer: {exc}",
                hint="check that the S3 server runs and the URI's host:port",
            ) from exc
        if isinstance(exc, bex.ClientError):
            code = _code(exc)
            if code in _REFUSED:
                raise StorageAccessError(
                    f"{where} refused the credentials ({code})", hint=CREDENTIALS_HINT
                ) from exc
            if code in ("NoSuchBucket",):
                raise StorageAccessError(
                    f"bucket {self.uri.bucket!r} does not exist ({where})",
                    hint="create it, or fix the bucket name in the URI",
                ) from exc
            if code in ("AccessDenied", "403"):
                raise StorageAccessError(
                    f"{where} denied access ({code})",
                    hint=f"{CREDENTIALS_HINT}; the key needs read/write on the bucket",
                ) from exc
            raise StorageAccessError(f"{where}: {code}: {exc}") from exc


def _client(uri: RemoteURI) -> Any:
    boto3 = import_optional("boto3", package="boto3", extra="s3", needed_for="an s3:// repository")
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": "path"} if uri.endpoint else {},
        # Plain payload checksums only where required: S3-compatible servers differ on the newer ones.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    return session.client(
        "s3", endpoint_url=uri.endpoint_url, region_name=session.region_name or _region(), config=config
    )


def open_store(uri: RemoteURI, *, need_prefix: bool = False) -> S3Store:
    """Probe the endpoint (bounded), then check the bucket and credentials (and the prefix when it must
    hold a repository): one clear error for each way it can be wrong."""
    require_s3(uri)
    probe_endpoint(uri)
    store = S3Store(uri, _client(uri))
    from botocore.exceptions import ClientError

    try:
        with translate(uri):
            store.client.head_bucket(Bucket=uri.bucket)
    except StorageAccessError as exc:
        cause = exc.__cause__
        if not isinstance(cause, ClientError) or _code(cause) not in ("403", "404"):
            raise
        # HEAD answers carry no error code: one small listing says which of the two it is.
        with translate(uri):
            store.client.list_objects_v2(Bucket=uri.bucket, MaxKeys=1)
        raise
    if need_prefix:
        with translate(uri):
            answer = store.client.list_objects_v2(
                Bucket=uri.bucket, Prefix=uri.key() + "/" if uri.prefix else "", MaxKeys=1
            )
        if not answer.get("Contents"):
            raise RepositoryError(
                f"no repository at {uri}: the prefix {uri.prefix or '/'} is empty",
                hint=f"push one first: tritonkit push REPO {uri}",
            )
    return store


def iter_relative(store: S3Store) -> Iterator[tuple[str, RemoteObject]]:
    """(path inside the repository, object) for every object under the URI's prefix."""
    base = store.uri.key()
    for key, obj in store.list(base).items():
        relative = key[len(base) :].lstrip("/") if base else key
        if relative and not relative.endswith("/"):
            yield relative, obj
