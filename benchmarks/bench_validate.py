"""Benchmark: `validate --no-artifacts` of a generated 5,000-model repository against bare parsing.

Figures:
- in-process (issue 11's figure, goal <= 1.2x: the rules cost a fifth of the parse at most):
  `validate_repository(repo, artifacts=False)` vs a loop in the same process that reads and parses every
  config.pbtxt with `text_format.Parse`, the schema module loaded from its file (the least any validator
  must do);
- process (goal <= 2x): `tritonkit validate --no-artifacts REPO` vs a bare script process that loads the
  schema and parses the same files (interpreter start-up included in both);
- `tritonkit --help`: no torch, docker or HTTP/gRPC client imported;
- instructions (no goal; where valgrind is installed): the same in-process comparison on 999 models counted
  by cachegrind, which does not move with the machine's load as CPU time does (15-30% here between runs).

Usage: python benchmarks/bench_validate.py [--models N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from timing import best_of, cpu_times_of

from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec, ModelSpec, TensorSpec
from tritonkit.repository.render import render_config, render_python_model

HEAVY = ("torch", "docker", "tritonclient.http", "tritonclient.grpc", "grpc")


def make_spec(index: int) -> ModelSpec:
    """A varied model: PyTorch, ONNX or Python; batching or not; instance groups; 1-3 inputs."""
    kind = index % 3
    name = f"model_{index:04d}"
    if kind == 0:
        inputs = [
            TensorSpec(f"INPUT__{i}", "fp32", [3, 224, 224] if i == 0 else [16]) for i in range(1 + index % 2)
        ]
        outputs = [TensorSpec("OUTPUT__0", "fp32", [1000])]
        return ModelSpec(name, "pytorch", inputs, outputs, max_batch_size=8,
                         dynamic_batching=DynamicBatchingSpec([2, 4], 100),
                         instance_groups=[InstanceGroupSpec(2, "cpu")])  # fmt: skip
    if kind == 1:
        inputs = [TensorSpec("input_ids", "int64", [-1]), TensorSpec("attention_mask", "int64", [-1])]
        return ModelSpec(name, "onnx", inputs, [TensorSpec("logits", "fp32", [-1, 2])], max_batch_size=16)
    inputs = [TensorSpec(f"in{i}", "bytes" if i == 2 else "int32", [-1]) for i in range(3)]
    return ModelSpec(
        name,
        "python",
        inputs,
        [TensorSpec("out", "int32", [-1])],
        instance_groups=[InstanceGroupSpec(1, "gpu", [0])],
    )  # fmt: skip  (GPU 1 would be a warning without --gpus)


def generate(repo: Path, count: int) -> list[Path]:
    configs = []
    for index in range(count):
        spec = make_spec(index)
        folder = repo / spec.name
        (folder / "1").mkdir(parents=True)
        (folder / "config.pbtxt").write_text(render_config(spec), encoding="utf-8")
        if spec.backend == "python":
            (folder / "1" / "model.py").write_text(render_python_model(spec), encoding="utf-8")
        configs.append(folder / "config.pbtxt")
    return configs


# The bare script: load the official schema the cheapest way (from its file, no gRPC), parse each file.
BARE_SCRIPT = """
import importlib.util, os, sys
from pathlib import Path
from google.protobuf import text_format
spec = importlib.util.find_spec("tritonclient")
path = Path(list(spec.submodule_search_locations)[0]) / "grpc" / "model_config_pb2.py"
module_spec = importlib.util.spec_from_file_location("tritonclient.grpc.model_config_pb2", path)
pb2 = importlib.util.module_from_spec(module_spec)
sys.modules[module_spec.name] = pb2
module_spec.loader.exec_module(pb2)
repo = sys.argv[1]
for name in sorted(os.listdir(repo)):
    with open(os.path.join(repo, name, "config.pbtxt"), encoding="utf-8") as handle:
        text_format.Parse(handle.read(), pb2.ModelConfig())
"""


def generate_in_child(repo: Path, models: int) -> None:
    """Write the repository from a child process: rendering thousands of specs fragments the heap of
    the process that does it, which would tax the side measured after it."""
    generator = [sys.executable, __file__, "--generate", str(repo), "--models", str(models)]
    subprocess.run(generator, check=True)


def sides(repo: Path, models: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """(bare parsing, validate) of `repo`: the two things every figure compares."""
    from google.protobuf import text_format

    from tritonkit.model.schema import pb2
    from tritonkit.validate.engine import validate_repository

    configs = sorted(repo.glob("*/config.pbtxt"))
    model_config = pb2().ModelConfig

    def bare_parse() -> None:
        for path in configs:
            text_format.Parse(path.read_text(encoding="utf-8"), model_config())

    def validate() -> None:
        result = validate_repository(repo, artifacts=False)
        assert result.ok and len(result.models) == models, result.findings[:3]

    return bare_parse, validate


def count_step(step: str, repo_arg: str) -> int:
    """The process cachegrind counts: load the schema and both sides, run each once (imports, caches,
    page cache), then run `step` (none, bare, validate) once more; the differences are the figure."""
    repo = Path(repo_arg)
    bare_parse, validate = sides(repo, len(list(repo.iterdir())))
    bare_parse()
    validate()
    {"none": lambda: None, "bare": bare_parse, "validate": validate}[step]()
    return 0


def count_instructions(models: int = 999) -> tuple[int, int] | None:
    """(validate, bare parsing) instructions on a `models`-model repository, or None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "model_repository"
        generate_in_child(repo, models)

        def count(step: str) -> int:
            run = subprocess.run(
                [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                 sys.executable, __file__, "--count", step, str(repo)],
                capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
            found = re.search(r"I\s+refs:\s+([\d,]+)", run.stderr)
            assert found, run.stderr[-2000:]
            return int(found.group(1).replace(",", ""))

        with ThreadPoolExecutor(2) as pool:  # instruction counts do not depend on what else runs
            none, bare, ours = pool.map(count, ("none", "bare", "validate"))
    return ours - none, bare - none


def report(figure: str, value: float, baseline: float, goal: float, unit: str = "s") -> None:
    ratio = value / baseline
    verdict = "ok" if ratio <= goal else "OVER GOAL"
    print(
        f"{figure}: {value:.3f} {unit} vs baseline {baseline:.3f} {unit} = {ratio:.2f}x "
        f"(goal <= {goal} x) {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)  # (the child that writes it)
    # (the process cachegrind counts)
    parser.add_argument("--count", nargs=2, metavar=("STEP", "REPO"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        generate(args.generate, args.models)
        return 0
    if args.count is not None:
        return count_step(*args.count)

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "model_repository"
        generate_in_child(repo, args.models)
        bare_parse, validate = sides(repo, args.models)
        bare_parse()  # warm the page cache and the schema
        validate()
        bare_times, our_times = cpu_times_of(args.repeat, bare_parse, validate)
        bare, ours = min(bare_times), min(our_times)
        paired = statistics.median(o / b for b, o in zip(bare_times, our_times, strict=True))
        print(
            f"repository: {args.models} generated models (PyTorch, ONNX, Python), "
            f"least CPU time of {args.repeat} interleaved rounds "
            f"(the median of the rounds' own ratios: {paired:.2f}x)"
        )
        print(
            f"bare text_format.Parse: {args.models / bare:,.0f} configs/s; "
            f"validate: {args.models / ours:,.0f} configs/s"
        )
        report("validate --no-artifacts, in-process API", ours, bare, 1.2)

        tritonkit = [
            sys.executable,
            "-c",
            "import sys; from tritonkit.cli import run; sys.exit(run(sys.argv[1:]))",
        ]
        cli = best_of(5, lambda: subprocess.run([*tritonkit, "validate", "--no-artifacts", str(repo)],
                                                check=True, capture_output=True))  # fmt: skip
        script = best_of(
            5, lambda: subprocess.run([sys.executable, "-c", BARE_SCRIPT, str(repo)], check=True)
        )
        report("tritonkit validate --no-artifacts, process", cli, script, 2.0)

        # The fixed start-up (interpreter, imports, CLI dispatch) measured on an empty repository, so
        # the per-config cost of the two processes can be compared on its own.
        empty = Path(tmp) / "empty"
        empty.mkdir()
        cli_empty = best_of(5, lambda: subprocess.run([*tritonkit, "validate", "--no-artifacts", str(empty)],
                                                      check=True, capture_output=True))  # fmt: skip
        script_empty = best_of(
            5, lambda: subprocess.run([sys.executable, "-c", BARE_SCRIPT, str(empty)], check=True)
        )
        print(
            f"start-up on an empty repository: tritonkit validate {cli_empty:.3f} s, "
            f"bare script {script_empty:.3f} s"
        )
        report("process, per-config part (total - start-up)", cli - cli_empty, script - script_empty, 2.0)

    probe = (
        "import sys, json, contextlib, io\nfrom tritonkit.cli import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    run(['--help'])\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    modules = json.loads(
        subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    )
    heavy = [m for m in modules if m.startswith(HEAVY) and m != "tritonclient.grpc.model_config_pb2"]
    print(
        f"tritonkit --help imports of {', '.join(HEAVY)}: {heavy or 'none'} ({'ok' if not heavy else 'FAIL'})"
    )
    counted = count_instructions()
    if counted is None:
        print("instructions: valgrind is not installed (apt install valgrind), not counted")
    else:
        ours_count, bare_count = counted
        print(
            "instructions, in-process API, 999 models (cachegrind; no goal: a figure load does not move): "
            f"validate {ours_count / 1e6:,.0f} M vs bare parsing {bare_count / 1e6:,.0f} M "
            f"= {ours_count / bare_count:.3f}x"
        )
    help_time = best_of(3, lambda: subprocess.run([*tritonkit, "--help"], check=True, capture_output=True))
    bare_python = best_of(3, lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
    print(f"tritonkit --help: {help_time:.3f} s (python -c pass: {bare_python:.3f} s)")
    return 0 if not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
