"""Images for `serve` (Docker SDK): present or pulled with progress, NGC login, and `--build`.

The NGC API key only ever travels in the SDK's auth config: never printed, logged, written or put in a
command line. `--build` extends NVIDIA's image with a repository's requirements.txt; its Dockerfile text
is the same as docker/Dockerfile (tests/test_serve_plan.py keeps them equal; the wheel ships this copy),
and the built tag is keyed by the base image id and the requirements.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tritonkit.errors import EngineUnavailableError, PullAuthError, UsageError
from tritonkit.serve.docker import _explain
from tritonkit.serve.plan import NGC_REGISTRY, NGC_USERNAME, image_registry

DockerClient = Any  # the SDK has no type information
KeyProvider = Callable[[], "str | None"]
_AUTH_WORDS = ("unauthorized", "denied", "authentication required", "401", "403")


@dataclass
class PullProgress:
    """One pull event: a layer's status and byte counts (when the engine gives them)."""

    layer: str
    status: str
    current: int | None = None
    total: int | None = None


def ngc_auth(key: str, registry: str = NGC_REGISTRY) -> dict[str, str]:
    """The SDK auth config for NGC: user `$oauthtoken`, the API key as password."""
    return {"username": NGC_USERNAME, "password": key, "serveraddress": registry}


def login(client: DockerClient, key: str, registry: str = NGC_REGISTRY) -> str:
    """Log the engine in to `registry` with the NGC API key; returns the registry's status text."""
    if not key:
        raise UsageError("an empty NGC API key", hint="set NGC_API_KEY or type the key at the prompt")
    from docker.errors import APIError, DockerException

    try:
        result = client.login(username=NGC_USERNAME, password=key, registry=registry, reauth=True)
    except APIError as exc:
        text = _explain(exc)
        if any(w in text.lower() for w in _AUTH_WORDS):
            raise EngineUnavailableError(
                f"login to {registry} refused: {text}", hint="check the NGC API key (ngc.nvidia.com > Setup)"
            ) from exc
        raise EngineUnavailableError(f"cannot log in to {registry}: {text}") from exc
    except DockerException as exc:
        raise EngineUnavailableError(f"cannot log in to {registry}: {_explain(exc)}") from exc
    status = result.get("Status", "") if isinstance(result, dict) else ""
    return str(status or "Login Succeeded")


def image_present(client: DockerClient, image: str) -> bool:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def pull_image(
    client: DockerClient, image: str, auth: dict[str, str] | None = None
) -> Iterator[PullProgress]:
    """Pull `image`, yielding per-layer progress; a failure raises EngineUnavailableError (exit 3)."""
    from docker.errors import APIError, DockerException
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(image)
    try:
        for event in client.api.pull(repository, tag or "latest", stream=True, decode=True, auth_config=auth):
            if "error" in event:
                raise _pull_error(image, str(event.get("error")), auth is not None)
            detail = event.get("progressDetail") or {}
            yield PullProgress(
                layer=str(event.get("id", "")),
                status=str(event.get("status", "")),
                current=detail.get("current"),
                total=detail.get("total"),
            )
    except APIError as exc:
        raise _pull_error(image, _explain(exc), auth is not None) from exc
    except DockerException as exc:
        raise _pull_error(image, _explain(exc), auth is not None) from exc


def _pull_error(image: str, text: str, had_auth: bool) -> EngineUnavailableError:
    if any(w in text.lower() for w in _AUTH_WORDS):
        hint = "the NGC API key was refused" if had_auth else "log in: tritonkit login (or set NGC_API_KEY)"
        return PullAuthError(f"cannot pull {image}: {text}", hint=hint)
    return EngineUnavailableError(
        f"image {image} is not present and cannot be pulled: {text}",
        hint="check the name/tag (--image, --tag), load or build the image locally (docker/), or use --local",
    )


def ensure_image(
    client: DockerClient,
    image: str,
    *,
    pull: str = "missing",
    key_provider: KeyProvider | None = None,
) -> Iterator[PullProgress]:
    """Make `image` available: nothing when present (unless pull=always), else pull with progress.

    For nvcr.io the key comes from `key_provider` (NGC_API_KEY or a hidden prompt); it is asked for
    only when the registry wants credentials.
    """
    present = image_present(client, image)
    if present and pull != "always":
        return
    if not present and pull == "never":
        raise EngineUnavailableError(
            f"image {image} is not present (--pull never)", hint="pull or build it first"
        )
    is_ngc = image_registry(image) == NGC_REGISTRY
    key = os.environ.get("NGC_API_KEY") if is_ngc else None
    auth = ngc_auth(key) if key else None
    try:
        yield from pull_image(client, image, auth)
    except PullAuthError:
        if auth is not None or key_provider is None or not is_ngc:
            raise
        asked = key_provider()
        if not asked:
            raise
        yield from pull_image(client, image, ngc_auth(asked))


# ---------------------------------------------------------------------------------------------- --build

# The same text as docker/Dockerfile (tests/test_serve_plan.py keeps them equal); the wheel ships this copy.
REQUIREMENTS_DOCKERFILE = r"""# tritonkit: NVIDIA's Triton image + a repository's Python requirements.
# For Python-backend models that import packages the image lacks. `tritonkit serve REPO --build`
# builds this same file (a copy ships inside the package; a test keeps the two equal) from
# REPO/requirements.txt, or the requirements.txt beside REPO, and runs the result. By hand:
#   docker build -f docker/Dockerfile --build-arg BASE_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3 \
#     -t my-tritonserver:24.10 DIR_WITH_REQUIREMENTS_TXT
ARG BASE_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3
FROM ${BASE_IMAGE}
COPY requirements.txt /opt/tritonkit/requirements.txt
# PIP_BREAK_SYSTEM_PACKAGES: a Debian-based image marks its Python as externally managed.
RUN PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir -r /opt/tritonkit/requirements.txt
"""


def find_requirements(repository: Path) -> Path | None:
    """REPO/requirements.txt, else the requirements.txt beside the repository (next to tritonkit.yaml)."""
    for candidate in (repository / "requirements.txt", repository.parent / "requirements.txt"):
        if candidate.is_file():
            return candidate
    return None


def build_image(client: Any, base_image: str, requirements: Path) -> tuple[str, bool]:
    """Build (or reuse) the base image + requirements; returns (tag, built_now).

    The tag is keyed by the base image id and the requirements, so an unchanged pair is not rebuilt.
    """
    import hashlib
    import io
    import tarfile

    from docker.errors import BuildError, DockerException

    text = requirements.read_bytes()
    base_id = client.images.get(base_image).id
    key = hashlib.sha256(base_id.encode() + b"\0" + text + REQUIREMENTS_DOCKERFILE.encode()).hexdigest()[:12]
    tag = f"tritonkit-built/tritonserver:{key}"
    if image_present(client, tag):
        return tag, False
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", REQUIREMENTS_DOCKERFILE.encode()), ("requirements.txt", text)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    try:
        client.images.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            buildargs={"BASE_IMAGE": base_image},
            rm=True,
            pull=False,
        )
    except BuildError as exc:
        lines = [str(chunk.get("stream", "")).rstrip() for chunk in exc.build_log if isinstance(chunk, dict)]
        tail = "\n".join(line for line in lines if line)[-1500:]
        raise EngineUnavailableError(
            f"building {base_image} + {requirements} failed: {exc.msg}\n{tail}",
            hint="fix requirements.txt (the packages must install with pip inside the image)",
        ) from exc
    except DockerException as exc:
        raise EngineUnavailableError(f"cannot build the image: {_explain(exc)}") from exc
    return tag, True
