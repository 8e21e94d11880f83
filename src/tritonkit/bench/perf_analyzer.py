"""NVIDIA perf_analyzer as a measurement engine, when a working binary is found.

Looked up, in order: $TRITONKIT_PERF_ANALYZER, `<venv>/perf_analyzer/perf_analyzer` (what
scripts/get-perf-analyzer.sh sets up), `perf_analyzer` on PATH. A binary that does not start (the
PyPI placeholder, a glibc too old) counts as absent.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tritonkit.bench.loadgen import Measurement, spread
from tritonkit.errors import EngineUnavailableError, InferenceError, UnstableMeasurementError


def _candidates() -> list[Path]:
    found: list[Path] = []
    env = os.environ.get("TRITONKIT_PERF_ANALYZER")
    if env:
        found.append(Path(env))
    found.append(Path(sys.prefix) / "perf_analyzer" / "perf_analyzer")
    on_path = shutil.which("perf_analyzer")
    if on_path:
        found.append(Path(on_path))
    return found


@functools.cache
def find_perf_analyzer() -> Path | None:
    """A perf_analyzer that runs here, or None."""
    for path in _candidates():
        if not (path.is_file() and os.access(path, os.X_OK)):
            continue
        try:
            proc = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "concurrency-range" in proc.stdout + proc.stderr:
            return path
    return None


def measure_with_perf_analyzer(
    url: str,
    protocol: str,
    model: str,
    *,
    concurrency: int,
    batch_size: int,
    duration_s: float,
    shapes: dict[str, list[int]] | None = None,
    input_data: Path | None = None,
) -> Measurement:
    """One (batch, concurrency) point measured by perf_analyzer, sending `input_data` (its JSON format)."""
    binary = find_perf_analyzer()
    if binary is None:
        raise EngineUnavailableError(
            "perf_analyzer is not available", hint="run scripts/get-perf-analyzer.sh, or use --engine builtin"
        )
    with tempfile.TemporaryDirectory(prefix="tritonkit-pa-") as tmp:
        report = Path(tmp) / "report.csv"
        cmd = [
            str(binary),
            "-m", model,
            "-u", url,
            "-i", protocol,
            "-b", str(batch_size),
            "--concurrency-range", f"{concurrency}:{concurrency}",
            "--measurement-interval", str(max(int(duration_s * 1000 / 3), 200)),
            # Three windows make the measurement. perf_analyzer's own stability rule (3 windows within
            # 10 %) fails on a shared 2-core machine; tritonkit repeats an unstable point instead.
            "--max-trials", "3",
            "--stability-percentage", "999",
            "-v",
            "-f", str(report),
        ]  # fmt: skip
        for name, dims in (shapes or {}).items():
            cmd += ["--shape", f"{name}:{','.join(str(d) for d in dims)}"]
        if input_data is not None:
            cmd += ["--input-data", str(input_data)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30 + duration_s * 10, cwd=tmp)
        except subprocess.TimeoutExpired:
            # perf_analyzer waits for answers that do not come (an overloaded server at a high
            # concurrency, as Model Analyzer sees too): a point with no throughput and endless latency.
            inf = float("inf")
            return Measurement(
                batch_size, concurrency, 0, 30 + duration_s * 10, 0.0, inf, inf, inf, "perf_analyzer"
            )
        if proc.returncode != 0 or not report.is_file():
            lines = (proc.stderr + "\n" + proc.stdout).strip().splitlines()
            errors = [line.strip() for line in lines if "error" in line.lower() or "failed" in line.lower()]
            tail = (errors or lines)[-3:]
            message = f"perf_analyzer failed on {model!r}: {' | '.join(tail)}"
            # perf_analyzer says so only in its output (it exits 1 as for any failure)
            if any("stable measurement" in line or "No valid requests" in line for line in lines):
                raise UnstableMeasurementError(message)
            raise InferenceError(message)
        return parse_report(
            report.read_text(), batch_size=batch_size, concurrency=concurrency, stdout=proc.stdout
        )


_PASS = re.compile(r"Pass \[\d+\] throughput: ([0-9.]+) infer/sec")
_REQUESTS = re.compile(r"Request count: (\d+)")


def parse_report(text: str, *, batch_size: int, concurrency: int, stdout: str = "") -> Measurement:
    """perf_analyzer's -f CSV (latencies in µs) and its -v output (windows, request count) -> Measurement."""
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise InferenceError("perf_analyzer wrote an empty report")
    row = rows[-1]

    def ms(key: str) -> float:
        return float(row.get(key, "nan") or "nan") / 1000.0

    qps = float(row["Inferences/Second"])
    windows = [float(v) for v in _PASS.findall(stdout)][-3:]
    counts = _REQUESTS.findall(stdout)
    requests = int(counts[-1]) if counts else 0
    return Measurement(
        batch_size=batch_size,
        concurrency=int(row.get("Concurrency", concurrency) or concurrency),
        requests=requests,
        seconds=requests * batch_size / qps if qps else 0.0,
        infer_per_s=qps,
        p50_ms=ms("p50 latency"),
        p90_ms=ms("p90 latency"),
        p99_ms=ms("p99 latency"),
        engine="perf_analyzer",
        spread_pct=spread(windows),
    )
