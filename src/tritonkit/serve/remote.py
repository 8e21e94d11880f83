"""Serving a repository in object storage: the checks and settings the server itself does not make.

Triton hangs about 52 s on an endpoint where nothing listens and says the same thing for a missing
bucket and a refused secret, so an `s3://` repository is checked first (repository/s3.py: a bounded
probe, then bucket, credentials and prefix). The server reads the standard AWS variables; a local
process inherits them, a container is given them. In a container 127.0.0.1 is the container itself,
so a loopback endpoint needs the host's network.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

from tritonkit.repository.remote import RemoteURI, is_remote, parse_remote_uri

# What the server's S3/GCS/Azure file systems read (core src/filesystem/implementations/*.h).
FORWARDED_ENV = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION",
    "AWS_PROFILE", "AWS_EC2_METADATA_DISABLED", "TRITON_CLOUD_CREDENTIAL_PATH",
    "GOOGLE_APPLICATION_CREDENTIALS", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
)  # fmt: skip
_LOOPBACK = ("127.", "localhost", "[::1]", "::1")


def remote_uri(repository: object) -> RemoteURI | None:
    """The parsed URI of a remote repository, or None for a local one."""
    return parse_remote_uri(str(repository)) if is_remote(str(repository)) else None


def check_remote(uri: RemoteURI) -> None:
    """Before any server starts: a bounded probe of an S3 endpoint and a diagnosis of what is wrong.

    Without boto3 only the endpoint is probed; gs:// and as:// are left to the server."""
    if uri.scheme != "s3":
        return
    from tritonkit.repository import s3

    if importlib.util.find_spec("boto3") is None:
        s3.probe_endpoint(uri)
        return
    s3.open_store(uri, need_prefix=True)


def server_env(uri: RemoteURI, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables the server needs for `uri`: the standard credential variables that are set, and
    no instance-metadata lookups against an explicit endpoint (they stall outside a cloud)."""
    env = {k: environ[k] for k in FORWARDED_ENV if environ.get(k)}
    if uri.scheme == "s3" and uri.endpoint is not None:
        env.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return env


def needs_host_network(uri: RemoteURI) -> bool:
    """A loopback endpoint is reachable from a container only on the host's network."""
    return uri.endpoint is not None and uri.endpoint.startswith(_LOOPBACK)
