"""Benchmark: `render` of a 1,000-model tritonkit.yaml against bare `text_format.MessageToString`.

Figures (goal from issue 10: render costs at most 2x bare MessageToString of the same messages):
- render: `render_config` of every model of the loaded spec (Jinja templates, the leftover fields
  rendered from the descriptor, the fingerprint) vs `text_format.MessageToString` of each model's
  `ModelConfig` message (the least any lossless renderer must do);
- reading the spec: `load_project_file` (YAML with line marks, every entry checked against the
  descriptor) vs the same file through bare `yaml.load` (CSafeLoader) and `json_format.ParseDict`;
- the whole `tritonkit render` (read, render, compare with the files on disk) as a process, for scale.

Usage: python benchmarks/bench_render.py [--models N] [--repeat R]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from timing import best_of

from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec, ModelSpec, TensorSpec
from tritonkit.repository.project import Project, load_project_file, write_project
from tritonkit.repository.render import render_config
from tritonkit.repository.scaffold import render_repository

WARMUP = [
    {
        "name": "w",
        "batch_size": 1,
        "inputs": {"INPUT__0": {"data_type": "TYPE_FP32", "dims": [16], "zero_data": True}},
    }
]


def make_spec(index: int) -> ModelSpec:
    """A mix seen in real repositories; every third model carries fields no template names."""
    name = f"model_{index:04d}"
    extra: dict[str, Any] = {}
    if index % 3 == 0:
        extra = {"version_policy": {"latest": {"num_versions": 2}}, "response_cache": {"enable": True}}
        if index % 2 == 0:
            extra["model_warmup"] = WARMUP
    if index % 3 == 0:
        inputs = [TensorSpec("INPUT__0", "fp32", [16]), TensorSpec("INPUT__1", "fp32", [3, 224, 224])]
        return ModelSpec(name, "pytorch", inputs, [TensorSpec("OUTPUT__0", "fp32", [1000])], max_batch_size=8,
                         dynamic_batching=DynamicBatchingSpec([2, 4], 100),
                         instance_groups=[InstanceGroupSpec(2, "gpu", [0, 1]), InstanceGroupSpec(1, "cpu")],
                         extra=extra)  # fmt: skip
    if index % 3 == 1:
        inputs = [TensorSpec("input_ids", "int64", [-1]), TensorSpec("attention_mask", "int64", [-1])]
        return ModelSpec(name, "onnx", inputs, [TensorSpec("logits", "fp32", [-1, 2])], max_batch_size=16,
                         instance_groups=[InstanceGroupSpec(1, "gpu")])  # fmt: skip
    inputs = [TensorSpec(f"in{i}", "bytes" if i == 2 else "int32", [-1]) for i in range(3)]
    return ModelSpec(name, "python", inputs, [TensorSpec("out", "int32", [-1])], parameters={"k": "v"})


def report(figure: str, value: float, baseline: float, goal: float | None) -> None:
    ratio = value / baseline
    verdict = "" if goal is None else f" (goal <= {goal} x) " + ("ok" if ratio <= goal else "OVER GOAL")
    print(f"{figure}: {value:.3f} s vs baseline {baseline:.3f} s = {ratio:.2f}x{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import yaml
    from google.protobuf import json_format, text_format

    from tritonkit.model.schema import new_config, parse_config

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "model_repository"
        repo.mkdir()
        spec_path = Path(tmp) / "tritonkit.yaml"
        write_project(Project(spec_path, repo, [make_spec(i) for i in range(args.models)]))
        specs = load_project_file(spec_path).models
        messages = [s.to_message() for s in specs]
        assert all(parse_config(render_config(s)) == m for s, m in zip(specs[:50], messages, strict=False))

        def ours() -> None:
            for spec in specs:
                render_config(spec)

        def bare() -> None:
            for message in messages:
                text_format.MessageToString(message)

        ours()
        bare()
        print(
            f"spec: {args.models} generated models (PyTorch, ONNX, Python; a third with warmup/policy/cache)"
        )
        report("render_config of every model", best_of(args.repeat, ours), best_of(args.repeat, bare), 2.0)

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        def bare_read() -> None:
            data = yaml.load(spec_path.read_text(encoding="utf-8"), Loader=loader)
            for entry in data["models"]:
                entry.pop("tritonkit", None)
                params = entry.get("parameters", {})
                entry["parameters"] = {
                    k: {"string_value": v} if isinstance(v, str) else v for k, v in params.items()
                }
                json_format.ParseDict(entry, new_config())

        read = best_of(args.repeat, lambda: load_project_file(spec_path))
        report("reading tritonkit.yaml (checked, with lines)", read, best_of(args.repeat, bare_read), None)

        render_repository(repo)  # the files exist: the timed runs read, render and compare
        cli = [sys.executable, "-m", "tritonkit", "render", "--repo", str(repo)]
        total = best_of(3, lambda: subprocess.run(cli, check=True, capture_output=True))
        print(f"tritonkit render of {args.models} models (nothing to change), process: {total:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
