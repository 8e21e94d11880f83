"""Repositories in object storage: the URIs Triton reads (`s3://`, `gs://`, `as://`), parsed as it does.

Pure: parsing only, no network. `repository/s3.py` talks to an S3 endpoint; `repository/fetch.py`
brings a remote repository to a local folder for the commands that read one (validate, describe).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tritonkit.errors import UsageError

SCHEMES = ("s3", "gs", "as")

# Triton's S3 path pattern with an endpoint (core src/filesystem/implementations/s3.h, the
# `s3_regex_` of S3FileSystem): protocol, host, port, bucket, object path. A path that does not match
# it is read as `s3://bucket/object`, so a bucket or file name outside these characters silently turns
# `host:port` into a bucket name on the server: tritonkit refuses such names instead.
_S3_ENDPOINT = re.compile(
    r"s3://(http://|https://|)([0-9a-zA-Z\-.]+):([0-9]+)/([0-9a-z.\-]+)(((/[0-9a-zA-Z.\-_]+)*)?)"
)
ENDPOINT_KEY_CHARS = re.compile(r"^[0-9a-zA-Z.\-_]+$")
# What the optional client libraries of each scheme are (tritonkit implements S3 only).
MISSING_SCHEME_HINT = {
    "gs": "tritonkit talks to S3 only; Triton reads gs:// itself (GOOGLE_APPLICATION_CREDENTIALS): copy the "
    "repository with `gcloud storage rsync -r REPO gs://...` (google-cloud-storage in Python)",
    "as": "tritonkit talks to S3 only; Triton reads as:// itself (AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY): "
    "copy the repository with `az storage blob upload-batch` (azure-storage-blob in Python)",
}


@dataclass(frozen=True)
class RemoteURI:
    """Where a repository lives in object storage: scheme, bucket, prefix, and an S3 endpoint if any."""

    scheme: str
    bucket: str
    prefix: str = ""  # no leading or trailing slash; "" is the bucket root
    endpoint: str | None = None  # host:port of an S3-compatible server (None: AWS)
    secure: bool = False  # https to the endpoint (only with an explicit https://)

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint as a URL for an S3 client (None: the scheme's default service)."""
        if self.endpoint is None:
            return None
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"

    def key(self, relative: str = "") -> str:
        """The object key of `relative` (a path inside the repository)."""
        relative = relative.strip("/")
        return "/".join(p for p in (self.prefix, relative) if p)

    def child(self, relative: str) -> str:
        """The URI of a path inside the repository (how findings and messages name remote files)."""
        return str(self).rstrip("/") + ("/" + relative.strip("/") if relative.strip("/") else "")

    def __str__(self) -> str:
        where = self.bucket if self.endpoint is None else f"{self.endpoint}/{self.bucket}"
        if self.endpoint is not None and self.secure:
            where = f"https://{where}"
        return f"{self.scheme}://{where}" + (f"/{self.prefix}" if self.prefix else "")


def is_remote(text: object) -> bool:
    """True for a URI of a scheme Triton reads from object storage."""
    return isinstance(text, str) and any(text.startswith(f"{s}://") for s in SCHEMES)


def _clean(path: str) -> str:
    """Triton's S3FileSystem::CleanPath: drop duplicate, leading and trailing slashes."""
    return re.sub(r"/+", "/", path).strip("/")


def parse_remote_uri(text: str) -> RemoteURI:
    """Parse `s3://bucket/prefix`, `s3://host:port/bucket/prefix`, `s3://http(s)://host:port/...`,
    `gs://bucket/prefix` or `as://account/container/prefix`; a malformed one is a UsageError."""
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in SCHEMES:
        raise UsageError(
            f"{text!r} is not an object-storage URI",
            hint="use s3://bucket/prefix or s3://host:port/bucket/prefix",
        )
    if scheme == "s3":
        return _parse_s3(text, rest)
    parts = _clean(rest).split("/") if _clean(rest) else []
    if scheme == "as":  # Triton: as://account_name/container_name/path
        if len(parts) < 2:
            raise UsageError(f"{text!r} names no container", hint="use as://ACCOUNT/CONTAINER/prefix")
        return RemoteURI("as", bucket=f"{parts[0]}/{parts[1]}", prefix="/".join(parts[2:]))
    if not parts:
        raise UsageError(f"{text!r} names no bucket", hint="use gs://bucket/prefix")
    return RemoteURI("gs", bucket=parts[0], prefix="/".join(parts[1:]))


def _parse_s3(text: str, rest: str) -> RemoteURI:
    protocol = ""
    for candidate in ("https://", "http://"):
        if rest.startswith(candidate):
            protocol, rest = candidate, rest[len(candidate) :]
    clean = _clean(rest)
    if not clean:
        raise UsageError(f"{text!r} names no bucket", hint="use s3://bucket/prefix")
    match = _S3_ENDPOINT.fullmatch(f"s3://{protocol}{clean}")
    if match:
        host, port, bucket, prefix = match.group(2), match.group(3), match.group(4), match.group(5)
        return RemoteURI(
            "s3",
            bucket=bucket,
            prefix=prefix.strip("/"),
            endpoint=f"{host}:{port}",
            secure=protocol == "https://",
        )
    first = clean.split("/", 1)[0]
    if protocol or re.fullmatch(r"[0-9a-zA-Z\-.]+:[0-9]+", first):
        # Triton would fall back to `s3://bucket/...` and take "host:port" for the bucket name.
        raise UsageError(
            f"{text!r}: Triton cannot read this endpoint URI (bucket [0-9a-z.-], path names [0-9a-zA-Z._-])",
            hint="use s3://host:port/bucket/prefix with a lower-case bucket and plain names",
        )
    bucket, _, prefix = clean.partition("/")
    return RemoteURI("s3", bucket=bucket, prefix=prefix)


def require_s3(uri: RemoteURI) -> None:
    """Refuse a scheme tritonkit cannot talk to itself, with what to use instead."""
    if uri.scheme != "s3":
        raise UsageError(
            f"{uri}: tritonkit cannot open {uri.scheme}:// itself", hint=MISSING_SCHEME_HINT[uri.scheme]
        )
