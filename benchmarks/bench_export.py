"""Benchmark: `tritonkit export` of a small model against a bare script that traces and saves it.

In process: export_model vs torch.jit.trace + save, interleaved runs after a warm-up; the best run of
each (as timeit reports: the least disturbed by other load on the machine) and the medians. As
commands: `tritonkit export` vs `python bare.py`, whole processes, torch import included.
Goal: export costs at most 1.2x the bare script.

The model zoo (tests/export_support.py: tiny BERT, DistilBERT, GPT-2, ViT, a GRU, a BatchNorm conv net, a
kwargs-only dict model, an FP16 MLP; random weights): per model and format, export_model without its proof
(eager runs, wrapping, saving) against the bare torch call that writes the same artifact (torch.jit.trace +
save; torch.onnx.export(dynamo=True) + save), best of ZOO_RUNS interleaved runs; the proof (reload and run
every case) is shown separately, as a ratio to the same bare call. Goal: <= 1.3x.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

GOAL = 1.2
ZOO_GOAL = 1.3
RUNS = 30
CLI_RUNS = 5
ZOO_RUNS = 2

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


def bench_zoo(work: Path) -> list[tuple[str, str, float, float, float]]:
    """(model, format, export without proof s, bare s, proof s) per zoo model and format."""
    import contextlib
    import io
    import warnings

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from export_support import hf_zoo, module_zoo  # type: ignore[import-not-found]
    from tritonkit.export import export_model
    from tritonkit.export.hf import example_inputs
    from tritonkit.repository.scaffold import init_repository

    warnings.simplefilter("ignore")
    cases: list[tuple[str, Any, Any, dict[str, Any]]] = []
    for name, model in hf_zoo().items():
        model.eval().config.use_cache = False
        examples = example_inputs(model, 8, 2)
        seq = {n: [0] for n in examples if n != "pixel_values"}  # the sequence, as export_checkpoint marks it
        cases.append((name, model, examples, {"max_batch_size": 8, "dynamic_dims": seq}))
    for name, (module, example, options) in module_zoo().items():
        cases.append((name, module, example, options))
    rows = []
    for name, model, example, options in cases:
        for fmt in ("torchscript", "onnx"):
            best_export = best_bare = best_proof = float("inf")
            for run in range(ZOO_RUNS):
                repo = init_repository(work / f"zoo_{name}_{fmt}_{run}" / "model_repository").repository
                args = tuple(example.values()) if isinstance(example, dict) else (example,)
                keywords = isinstance(example, dict)
                t0 = time.perf_counter()
                axes = [[0, 1] if t.dtype == torch.int64 and t.dim() == 2 else [0] for t in args]
                names = list(example) if keywords else None
                try:
                    _bare(model, args, names, fmt, work / f"bare_{name}.{fmt}", axes)
                    bare_ok = True
                except Exception:  # e.g. torch.export fixes a GRU's length: no bare baseline to compare with
                    bare_ok = False
                t1 = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):
                    result = export_model(model, example, repo=repo, name=name, format=fmt, **options)
                t2 = time.perf_counter()
                if bare_ok:
                    best_bare = min(best_bare, t1 - t0)
                best_export = min(best_export, t2 - t1 - result.seconds["proof"])
                best_proof = min(best_proof, result.seconds["proof"])
            rows.append((name, fmt, best_export, best_bare, best_proof))
    return rows


def _bare(
    model: Any, args: tuple[Any, ...], names: list[str] | None, fmt: str, path: Path, axes: list[list[int]]
) -> None:
    """The torch calls a user would write by hand for the same artifact (names: call by keyword)."""
    import contextlib
    import io

    import torch

    from tritonkit.export.convert import io_wrapper
    from tritonkit.export.tensors import output_paths

    with torch.no_grad():
        result = model(**dict(zip(names, args, strict=True))) if names else model(*args)
    source = model
    if names or not isinstance(result, torch.Tensor):  # a dict result or keyword inputs need a wrapper anyway
        arg_names: list[str | None] = [*names] if names else [None] * len(args)
        paths = [p for p, _ in output_paths(result)]
        source = io_wrapper(model, arg_names, by_keyword=bool(names), paths=paths)
    if fmt == "torchscript":
        traced = torch.jit.trace(source, args, strict=False, check_trace=False)  # type: ignore[no-untyped-call]
        traced.save(str(path))
        return
    shapes = tuple({a: torch.export.Dim.DYNAMIC for a in dims} for dims in axes)
    with contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(source, args, dynamo=True, dynamic_shapes=shapes)
    assert program is not None
    program.save(str(path))


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
        rows = bench_zoo(work)
        for name, fmt, export_s, bare_s, proof_s in rows:
            if bare_s == float("inf"):
                print(
                    f"export of zoo model {name} ({fmt}), without its proof (best of {ZOO_RUNS}): "
                    f"{export_s * 1000:.0f} ms; no baseline: the bare torch call fails on this model; "
                    f"proof {proof_s * 1000:.0f} ms"
                )
                continue
            print(
                f"export of zoo model {name} ({fmt}), without its proof (best of {ZOO_RUNS}): "
                f"{export_s * 1000:.0f} ms vs baseline bare torch call {bare_s * 1000:.0f} ms = "
                f"{export_s / bare_s:.2f}x (goal <= {ZOO_GOAL} x); proof {proof_s * 1000:.0f} ms = "
                f"{proof_s / bare_s:.2f}x of the baseline"
            )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        print(done.stderr.strip())


if __name__ == "__main__":
    main()
