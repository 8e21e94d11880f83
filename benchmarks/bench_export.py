"""Benchmark: `tritonkit export` of a small model against a bare script that traces and saves it.

In process: export_model vs torch.jit.trace + save, interleaved runs after a warm-up; the best run of
each (as timeit reports: the least disturbed by other load on the machine) and the medians. As
commands: `tritonkit export` vs `python bare.py`, whole processes, torch import included.
Goal: export costs at most 1.2x the bare script.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

GOAL = 1.2
RUNS = 30
CLI_RUNS = 5

MODEL_PY = textwrap.dedent(
    """
    import torch

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))

        def forward(self, x):
            return self.net(x)
    """
)

BARE_PY = textwrap.dedent(
    """
    import sys
    import torch
    sys.path.insert(0, ".")
    from models import MLP

    model = MLP().eval()
    traced = torch.jit.trace(model, torch.randn(2, 16))
    traced.save(sys.argv[1])
    """
)


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def bench_in_process(work: Path) -> tuple[float, float, float, float]:
    import warnings

    import torch

    sys.path.insert(0, str(work))
    from models import MLP  # type: ignore[import-not-found]

    from tritonkit.export import export_model
    from tritonkit.repository.scaffold import init_repository

    warnings.simplefilter("ignore")
    # A fresh project per run (created outside the timing): the cost of one export, not of a spec file
    # that grows with every run.
    repos = [init_repository(work / f"inproc{i}" / "model_repository").repository for i in range(-1, RUNS)]
    model = MLP().eval()
    example = torch.randn(2, 16)

    def bare(i: int) -> None:
        traced = torch.jit.trace(model, example)
        traced.save(str(work / f"bare_{i}.pt"))

    def export(i: int) -> None:
        export_model(model, example, repo=repos[i + 1], name="mlp", max_batch_size=8)

    bare(-1)
    export(-1)  # warm-up: first calls pay one-time costs
    bare_times, export_times = [], []
    for i in range(RUNS):  # interleaved, so drift affects both alike
        t0 = time.perf_counter()
        bare(i)
        t1 = time.perf_counter()
        export(i)
        t2 = time.perf_counter()
        bare_times.append(t1 - t0)
        export_times.append(t2 - t1)
    return min(export_times), min(bare_times), _median(export_times), _median(bare_times)


def bench_cli(work: Path) -> tuple[float, float]:
    bin_dir = Path(sys.executable).parent
    tritonkit = str(bin_dir / "tritonkit")
    subprocess.run([tritonkit, "init", "cli_repo"], cwd=work, check=True, capture_output=True)
    bare_times, export_times = [], []
    for i in range(CLI_RUNS):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "bare.py", f"cli_bare_{i}.pt"], cwd=work, check=True, capture_output=True
        )
        t1 = time.perf_counter()
        subprocess.run(
            [tritonkit, "export", "models.py:MLP", "--name", f"m{i}", "-e", "fp32:2,16",
             "--max-batch-size", "8", "--repo", "cli_repo"],
            cwd=work, check=True, capture_output=True,
        )  # fmt: skip
        t2 = time.perf_counter()
        bare_times.append(t1 - t0)
        export_times.append(t2 - t1)
    return _median(export_times), _median(bare_times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        (work / "models.py").write_text(MODEL_PY)
        (work / "bare.py").write_text(BARE_PY)
        export_s, bare_s, export_med, bare_med = bench_in_process(work)
        print(
            f"export of a small MLP, in process (best of {RUNS}): {export_s * 1000:.1f} ms "
            f"vs baseline trace+save {bare_s * 1000:.1f} ms = {export_s / bare_s:.2f}x (goal <= {GOAL} x)"
        )
        print(
            f"export of a small MLP, in process (median of {RUNS}): {export_med * 1000:.1f} ms "
            f"vs baseline trace+save {bare_med * 1000:.1f} ms = {export_med / bare_med:.2f}x "
            f"(goal <= {GOAL} x)"
        )
        cli_export, cli_bare = bench_cli(work)
        print(
            f"tritonkit export command, whole process (median of {CLI_RUNS}): {cli_export * 1000:.0f} ms "
            f"vs baseline python trace+save script {cli_bare * 1000:.0f} ms = {cli_export / cli_bare:.2f}x "
            f"(goal <= {GOAL} x)"
        )
        code = (
            "import sys\nfrom tritonkit.cli import run\n"
            "try:\n    run(['export', '--help'])\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('torch imported by export --help: %s\\n' % ('torch' in sys.modules))"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        print(done.stderr.strip())


if __name__ == "__main__":
    main()
