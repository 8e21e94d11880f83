"""Benchmark: `tritonkit export` of a small model against a bare script that traces and saves it.

In process: export_model vs torch.jit.trace + save, interleaved runs after a warm-up; the best run of
each (as timeit reports: the least disturbed by other load on the machine) and the medians. As
commands: `tritonkit export` vs `python bare.py`, whole processes, torch import included.
Goal: export costs at most 1.2x the bare script.

The model zoo (tests/export_support.py: tiny BERT, DistilBERT, GPT-2, ViT, a GRU, a BatchNorm conv net, a
kwargs-only dict model, an FP16 MLP; random weights): per model and format, export_model without its proof
phase (the eager runs of the example and of the other lengths, which give the spec, wrapping, saving, the
config, golden sample and spec file) against the bare torch call that writes the same artifact, as a user
would by hand: torch.jit.trace(strict=False, check_trace=False) + save, torch.onnx.export(dynamo=True,
dynamic_shapes) + save (where dynamo raises, the TorchScript-based exporter with dynamic_axes, as
tritonkit's --onnx-exporter auto does: torch.export fixes a GRU's length), around the small wrapper a
keyword call or a dict result needs; the output structure that wrapper names is found outside the
timing. Each side warmed up once, then ZOO_RUNS runs
interleaved in alternating order, the garbage collector off during each (as timeit), the best of each
reported. The proof phase (the reference runs at another batch size and on fresh values, the reload of
the file and every comparison) is shown separately, as a ratio to the same bare call, and the export with
it. Goal: <= 1.3x without the proof. The load average before and after the zoo runs is printed.
"""

from __future__ import annotations

import functools
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOAL = 1.2
ZOO_GOAL = 1.3
RUNS = 30
CLI_RUNS = 5
ZOO_RUNS = {"torchscript": 15, "onnx": 3}  # an ONNX export takes seconds, a trace a fraction of one

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


@dataclass
class ZooRow:
    """Best seconds of one zoo model and format (inf: not measured)."""

    name: str
    fmt: str
    baseline: str  # the bare call timed
    export: float = float("inf")  # export_model without its proof phase
    bare: float = float("inf")
    proof: float = float("inf")
    total: float = float("inf")  # export_model with its proof


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of one call, with the garbage collector off as timeit does (a collection lands anywhere)."""
    gc.collect()
    gc.disable()
    try:
        started = time.perf_counter()
        value = call()
        return time.perf_counter() - started, value
    finally:
        gc.enable()


def bench_zoo(work: Path) -> list[ZooRow]:
    """Per zoo model and format: export_model (its proof phase apart) vs the bare torch call, best of N."""
    import warnings

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from export_support import hf_zoo, module_zoo  # type: ignore[import-not-found]
    from tritonkit.export import export_model
    from tritonkit.export.hf import example_inputs

    warnings.simplefilter("ignore")
    cases: list[tuple[str, Any, Any, dict[str, Any]]] = []
    for name, model in hf_zoo().items():
        model.eval().config.use_cache = False
        examples = example_inputs(model, 8, 2)
        seq = {n: [0] for n in examples if n != "pixel_values"}  # the sequence, as export_checkpoint marks it
        cases.append((name, model, examples, {"max_batch_size": 8, "dynamic_dims": seq}))
    for name, (module, example, options) in module_zoo().items():
        cases.append((name, module, example, options))
    rows: list[ZooRow] = []
    for name, model, example, options in cases:
        names = list(example) if isinstance(example, dict) else None
        args = tuple(example.values()) if names else (example,)
        with torch.no_grad():  # the output structure, known to a user writing the bare call by hand: untimed
            result = model(**example) if names else model(*args)
        bare = _BareCall(model, args, names, result)
        for fmt in ("torchscript", "onnx"):
            export = functools.partial(export_model, model, example, name=name, format=fmt, **options)
            rows += _bench_zoo_model(work, name, fmt, bare, export)
    return rows


def _bench_zoo_model(
    work: Path, name: str, fmt: str, bare: _BareCall, export: Callable[..., Any]
) -> list[ZooRow]:
    """Warm-up, then ZOO_RUNS interleaved runs (the order alternating), for one model and format."""
    from tritonkit.repository.scaffold import init_repository

    runs = ZOO_RUNS[fmt]
    counter = iter(range(10_000))

    def fresh_repo() -> Path:  # made outside the timing: one export's cost, not a growing spec file's
        return init_repository(work / f"zoo_{name}_{fmt}_{next(counter)}" / "model_repository").repository

    target = work / f"bare_{name}.{'pt' if fmt == 'torchscript' else 'onnx'}"
    export(repo=fresh_repo())  # the export's warm-up
    bare.run(fmt, target)  # the bare call's
    bare.fallbacks = 0
    row = ZooRow(name, fmt, "torch.jit.trace + save")
    fell_back = 0
    for run in range(runs):
        repos = fresh_repo()
        steps = ["bare", "export"] if run % 2 == 0 else ["export", "bare"]  # drift and order cancel out
        for step in steps:
            if step == "bare":
                row.bare = min(row.bare, _timed(functools.partial(bare.run, fmt, target))[0])
            else:
                seconds, result = _timed(functools.partial(export, repo=repos))
                row.export = min(row.export, seconds - result.seconds["proof"])
                row.proof = min(row.proof, result.seconds["proof"])
                row.total = min(row.total, seconds)
                fell_back += any(n.startswith("the dynamo ONNX exporter failed") for n in result.notes)
    if fmt == "onnx":
        row.baseline = "torch.onnx.export(dynamo=True, dynamic_shapes) + save"
        if bare.fallbacks or fell_back:  # torch.export fixes a GRU's length, not always on the first call
            row.baseline += (
                f" (dynamo failed, then dynamo=False: bare {bare.fallbacks}, tritonkit {fell_back} of {runs})"
            )
    return [row]


class _BareCall:
    """The torch calls a user would write by hand for the same artifact as tritonkit's."""

    def __init__(self, model: Any, args: tuple[Any, ...], names: list[str] | None, result: Any) -> None:
        self.model, self.args, self.names = model, args, names
        from tritonkit.export.tensors import output_paths

        self.paths = [p for p, _ in output_paths(result)]
        self.wrapped = bool(names) or self.paths != [()]  # keyword inputs or a dict result: a wrapper
        self.fallbacks = 0  # ONNX runs where dynamo raised and the TorchScript-based exporter wrote the file

    def source(self) -> Any:
        """The module traced: the model, or the small wrapper a user writes (keyword call, tuple out)."""
        from tritonkit.export.convert import io_wrapper

        if not self.wrapped:
            return self.model
        arg_names: list[str | None] = [*self.names] if self.names else [None] * len(self.args)
        return io_wrapper(self.model, arg_names, by_keyword=bool(self.names), paths=self.paths)

    def run(self, fmt: str, target: Path) -> None:
        import contextlib
        import io

        import torch

        source = self.source()
        if fmt == "torchscript":
            traced = torch.jit.trace(source, self.args, strict=False, check_trace=False)  # type: ignore[no-untyped-call]
            traced.save(str(target))
            return
        # The dims tritonkit makes dynamic in the zoo: batch, and the sequence of 2-d int64 (token ids).
        axes = [[0, 1] if t.dtype == torch.int64 and t.dim() == 2 else [0] for t in self.args]
        try:  # what tritonkit's --onnx-exporter auto does too: dynamo first, the older exporter if it raises
            shapes = tuple({a: torch.export.Dim.DYNAMIC for a in dims} for dims in axes)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                program = torch.onnx.export(source, self.args, dynamo=True, dynamic_shapes=shapes)
            assert program is not None
            program.save(str(target))
            return
        except Exception:
            self.fallbacks += 1
        inputs = [f"INPUT__{i}" for i in range(len(self.args))]
        outputs = [f"OUTPUT__{i}" for i in range(len(self.paths))]
        dynamic = {n: {a: f"{n}_{a}" for a in dims} for n, dims in zip(inputs, axes, strict=True)}
        dynamic.update({n: {0: f"{n}_0"} for n in outputs})
        torch.onnx.export(
            source, self.args, str(target), input_names=inputs, output_names=outputs,
            dynamic_axes=dynamic, dynamo=False,
        )  # fmt: skip


def _zoo_line(row: ZooRow) -> str:
    runs = ZOO_RUNS[row.fmt]
    head = f"export of zoo model {row.name} ({row.fmt}), best of {runs} after a warm-up: without its proof "
    proof = f"proof {row.proof * 1000:.0f} ms"
    if row.bare == float("inf"):
        return head + f"{row.export * 1000:.0f} ms; no baseline ({row.baseline}); {proof}"
    return (
        head + f"{row.export * 1000:.0f} ms vs baseline {row.baseline} {row.bare * 1000:.0f} ms = "
        f"{row.export / row.bare:.2f}x (goal <= {ZOO_GOAL} x); {proof} = {row.proof / row.bare:.2f}x of the "
        f"baseline; with its proof {row.total * 1000:.0f} ms = {row.total / row.bare:.2f}x"
    )


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
        before = os.getloadavg()
        rows = bench_zoo(work)
        after = os.getloadavg()
        for row in rows:
            print(_zoo_line(row))
        print(
            "load average (1, 5, 15 min) before the zoo runs {:.1f} {:.1f} {:.1f}, "
            "after {:.1f} {:.1f} {:.1f} ({} cores)".format(*before, *after, os.cpu_count())
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        print(done.stderr.strip())


if __name__ == "__main__":
    main()
