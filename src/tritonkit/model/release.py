"""Triton releases: the one parser of `24.10`, `r24.10`, `24.10-py3`, `nvcr.io/nvidia/tritonserver:24.10-py3`,
`2.51` or `2.51.0`, and the one pin of the default release.

NGC names a release by year and month (`YY.MM`); the server reports its own version (`2.51.0`). Both
name the same release; the table between them is the `TRITON_VERSION` file of
triton-inference-server/server on each `rYY.MM` branch (23.01 = 2.30.0 ... 26.08 = 2.72.0; 25.07 shipped
2.59.1). A server version outside the table is refused (which release it is cannot be told); an NGC
tag outside it parses (export's rules compare releases), and `validate --triton` refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tritonkit.errors import UsageError

# The one place the default NGC release is pinned: 24.10 = Triton 2.51, the server of nvidia-pytriton 0.7.0.
DEFAULT_TAG = "24.10"

# NGC tag -> server version (server repository, TRITON_VERSION per release branch).
SERVER_VERSIONS: dict[str, str] = {
    "23.01": "2.30.0", "23.02": "2.31.0", "23.03": "2.32.0", "23.04": "2.33.0", "23.05": "2.34.0",
    "23.06": "2.35.0", "23.07": "2.36.0", "23.08": "2.37.0", "23.09": "2.38.0", "23.10": "2.39.0",
    "23.11": "2.40.0", "23.12": "2.41.0", "24.01": "2.42.0", "24.02": "2.43.0", "24.03": "2.44.0",
    "24.04": "2.45.0", "24.05": "2.46.0", "24.06": "2.47.0", "24.07": "2.48.0", "24.08": "2.49.0",
    "24.09": "2.50.0", "24.10": "2.51.0", "24.11": "2.52.0", "24.12": "2.53.0", "25.01": "2.54.0",
    "25.02": "2.55.0", "25.03": "2.56.0", "25.04": "2.57.0", "25.05": "2.58.0", "25.06": "2.59.0",
    "25.07": "2.59.1", "25.08": "2.60.0", "25.09": "2.61.0", "25.10": "2.62.0", "25.11": "2.63.0",
    "25.12": "2.64.0", "26.01": "2.65.0", "26.02": "2.66.0", "26.03": "2.67.0", "26.04": "2.68.0",
    "26.05": "2.69.0", "26.06": "2.70.0", "26.07": "2.71.0", "26.08": "2.72.0",
}  # fmt: skip
_NGC = re.compile(r"^(?:.*tritonserver:)?r?(\d{2})\.(\d{2})(?:[-.].*)?$")
_SERVER = re.compile(r"^v?2\.(\d+)(?:\.(\d+))?(?:dev)?$")


@dataclass(frozen=True, order=True)
class Release:
    """A Triton release by its NGC year and month (24.10 = October 2024)."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:02d}.{self.month:02d}"

    @property
    def server_version(self) -> str | None:
        """The server version of this release (`2.51.0`), None when the table does not know it."""
        return SERVER_VERSIONS.get(str(self))

    def at_least(self, other: str | Release) -> bool:
        return self >= (parse_release(other) if isinstance(other, str) else other)


def parse_release(text: str) -> Release:
    """`24.10`, `r24.10`, `24.10-py3`, an image `...tritonserver:24.10-py3`, or a server version `2.51.0`."""
    value = text.strip()
    server = _SERVER.match(value)
    if server:
        wanted = f"2.{int(server.group(1))}.{int(server.group(2) or 0)}"
        for tag, version in SERVER_VERSIONS.items():
            if version == wanted or (server.group(2) is None and version.startswith(wanted[:-1])):
                return parse_release(tag)
        raise UsageError(
            f"unknown Triton release {value!r}: no NGC release ships server {wanted}",
            hint=f"give the NGC release as YY.MM (from {min(SERVER_VERSIONS)} to {max(SERVER_VERSIONS)}), "
            "e.g. --triton 24.10",
        )
    ngc = _NGC.match(value)
    if ngc and 1 <= int(ngc.group(2)) <= 12:
        return Release(int(ngc.group(1)), int(ngc.group(2)))
    raise UsageError(
        f"bad Triton release {text!r}",
        hint="write the NGC release YY.MM (e.g. 24.10) or the server version 2.51",
    )


# The release the bundled CPU server is (nvidia-pytriton 0.7.0 ships Triton 2.51.0 = NGC 24.10).
LOCAL_SERVER = Release(24, 10)
