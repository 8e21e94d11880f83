"""Triton releases: parse `24.10`, `r24.10`, `nvcr.io/nvidia/tritonserver:24.10-py3` or `2.51` into one value.

NGC names a release by year and month (`YY.MM`); the server reports its own version (`2.51.0`). Both
name the same release; the map between them comes from the server's `build.py` (TRITON_VERSION_MAP:
2.41 = 23.12, 2.56 = 25.03) and its release notes (2.51 = 24.10, 2.67 = 26.03). Between those anchors the
numbers advance one per month except for one skipped number after 25.03, so a `2.N` there is refused.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from tritonkit.errors import UsageError

# (server version minor, NGC year, NGC month): pairs where both names are known to agree.
_ANCHORS = ((41, 23, 12), (51, 24, 10), (56, 25, 3), (67, 26, 3))
_NGC = re.compile(r"^(?:.*tritonserver:)?r?(\d{2})\.(\d{2})(?:[-.].*)?$")
_SERVER = re.compile(r"^v?2\.(\d+)(?:\.\d+)?(?:dev)?$")


@dataclass(frozen=True, order=True)
class Release:
    """A Triton release by its NGC year and month (24.10 = October 2024)."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:02d}.{self.month:02d}"

    def at_least(self, other: str | Release) -> bool:
        return self >= (parse_release(other) if isinstance(other, str) else other)


def _months(year: int, month: int) -> int:
    return year * 12 + month - 1


def _from_server_minor(minor: int, text: str) -> Release:
    for (lo, ly, lm), (hi, hy, hm) in itertools.pairwise(_ANCHORS):
        if lo <= minor <= hi and hi - lo == _months(hy, hm) - _months(ly, lm):
            total = _months(ly, lm) + minor - lo
            return Release(total // 12, total % 12 + 1)
    for known, year, month in _ANCHORS:
        if minor == known:
            return Release(year, month)
    raise UsageError(
        f"cannot tell which NGC release Triton {text} is",
        hint="give the NGC release as YY.MM, e.g. --triton 24.10",
    )


def parse_release(text: str) -> Release:
    """`24.10`, `r24.10`, `24.10-py3`, an image `...tritonserver:24.10-py3`, or a server version `2.51.0`."""
    value = text.strip()
    server = _SERVER.match(value)
    if server:
        return _from_server_minor(int(server.group(1)), value)
    ngc = _NGC.match(value)
    if ngc and 1 <= int(ngc.group(2)) <= 12:
        return Release(int(ngc.group(1)), int(ngc.group(2)))
    raise UsageError(
        f"bad Triton release {text!r}",
        hint="write the NGC release YY.MM (e.g. 24.10) or the server version 2.51",
    )


# The release the bundled CPU server is (nvidia-pytriton 0.7.0 ships Triton 2.51.0 = NGC 24.10).
LOCAL_SERVER = Release(24, 10)
