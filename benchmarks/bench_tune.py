"""`bench --tune` side by side with NVIDIA's Model Analyzer on the same model, search space and budget.

The model: the Python `add_sub` example with 2 ms of work per execute() (per batch, as on a GPU). The
search space: 1-5 instances, max_batch_size 1-128 (powers of two), dynamic batching, concurrency found
by each tool; the budget: p99 <= 50 ms. Reported per contender: the wall time to the answer, and the
answer's config, throughput and p99:

- Model Analyzer 1.58 quick search (`--run-config-search-mode quick`), in remote mode against the
  wheel's server in explicit model-control mode (triton_launch_mode: remote, perf_analyzer_path = the
  tritonclient 2.51 binary, dcgm_disable, cpu_only), in a venv of its own (/var/tmp/tritonkit-ma-venv,
  created here; it needs no torch), never the project's venv.
- Model Analyzer brute search with `--run-config-search-max-concurrency 128 --perf-analyzer-timeout 60`
  (about 22 min: only with --ma-brute; otherwise the figures recorded in the last such run are shown).
- `tritonkit bench --tune` (perf_analyzer engine).
- tritonkit's exhaustive `--sweep`: the same grid at concurrency 1..256 (the reference for "within 5%").

Goals: --tune's throughput >= MA brute's, in no more wall time than MA quick, and within 5% of the
exhaustive sweep's best. The machine is shared: the load average is printed with the figures.

Run: .venv/bin/python benchmarks/bench_tune.py [--ma-brute] [--skip-ma] [--skip-sweep]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from client_support import EXAMPLES, start_test_server  # noqa: E402

MA_VENV = Path(os.environ.get("TRITONKIT_MA_VENV", "/var/tmp/tritonkit-ma-venv"))
MA_VERSION = "1.58.0"
BUDGET_MS = 50.0
MAX_INSTANCES = 5
MAX_BATCH = 128
# The last MA brute run (`--ma-brute`), recorded so a regular `make bench` does not spend 22 minutes.
RECORDED_BRUTE = ROOT / "benchmarks" / "bench_tune_ma_brute.json"


@dataclass
class Answer:
    """A contender's answer: how long it took, and the config it names with its measured figures."""

    who: str
    wall_s: float
    config: str
    infer_per_s: float
    p99_ms: float
    note: str = ""


def make_repository(dest: Path) -> Path:
    """add_sub alone, with 2 ms of work per batch."""
    repo = dest / "model_repository"
    shutil.copytree(
        EXAMPLES / "python_pipeline" / "model_repository" / "add_sub",
        repo / "add_sub",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    config = repo / "add_sub" / "config.pbtxt"
    text = config.read_text()
    config.write_text(text.replace('string_value: "0"', 'string_value: "2"'))
    return repo


def perf_analyzer_binary() -> Path:
    path = Path(sys.prefix) / "perf_analyzer" / "perf_analyzer"
    if not path.is_file():
        sys.exit(f"error: {path} missing: run scripts/get-perf-analyzer.sh")
    return path


def ma_venv() -> Path:
    """Model Analyzer's own venv (created and filled on first use)."""
    exe = MA_VENV / "bin" / "model-analyzer"
    if not exe.is_file():
        print(f"== creating {MA_VENV} with triton-model-analyzer=={MA_VERSION}", flush=True)
        subprocess.run([sys.executable.replace(sys.prefix, sys.base_prefix), "-m", "venv", str(MA_VENV)],
                       check=True)  # fmt: skip
        subprocess.run(
            [str(MA_VENV / "bin" / "pip"), "install", "--quiet", f"triton-model-analyzer=={MA_VERSION}"],
            check=True,
        )
    return exe


def run_model_analyzer(mode: str, url: str, grpc_url: str, metrics_port: int, work: Path) -> Answer:
    """One `model-analyzer profile` run in remote mode; its best row that meets the budget."""
    exe = ma_venv()
    out = work / f"ma-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    config = {
        "model_repository": str(work / "model_repository"),
        "run_config_search_mode": mode,
        "triton_launch_mode": "remote",
        "triton_http_endpoint": url,
        "triton_grpc_endpoint": grpc_url,
        "triton_metrics_url": f"http://127.0.0.1:{metrics_port}/metrics",
        "perf_analyzer_path": str(perf_analyzer_binary()),
        "dcgm_disable": True,
        "export_path": str(out),
        "checkpoint_directory": str(out / "checkpoints"),
        "output_model_repository_path": str(out / "output_model_repository"),
        "override_output_model_repository": True,
        "run_config_search_max_instance_count": MAX_INSTANCES,
        "run_config_search_max_model_batch_size": MAX_BATCH,
        "skip_detailed_reports": True,
        "profile_models": {
            "add_sub": {"cpu_only": True, "constraints": {"perf_latency_p99": {"max": int(BUDGET_MS)}}}
        },
    }
    config_path = out / "config.yaml"
    config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    argv = [str(exe), "profile", "-f", str(config_path)]
    if mode == "brute":
        argv += ["--run-config-search-max-concurrency", "128", "--perf-analyzer-timeout", "60"]
    log = out / "model-analyzer.log"
    started = time.monotonic()
    with open(log, "w") as handle:
        proc = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, cwd=out, timeout=3600)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        sys.exit(f"error: model-analyzer {mode} failed ({proc.returncode}): " + " | ".join(tail))
    return _ma_answer(f"MA {mode}", wall, out)


def _ma_answer(who: str, wall: float, out: Path) -> Answer:
    table = next(out.rglob("metrics-model-inference.csv"), None)
    if table is None:
        sys.exit(f"error: no metrics-model-inference.csv under {out}")
    rows = list(csv.DictReader(table.open()))
    ok = [r for r in rows if _float(r, "p99 Latency (ms)") <= BUDGET_MS]
    if not ok:
        return Answer(who, wall, "(none meets the budget)", 0.0, float("nan"))
    best = max(ok, key=lambda r: _float(r, "Throughput (infer/sec)"))
    config = (
        f"{best.get('Model Config Path', '?')}: instances {best.get('Instance Group', '?')}, "
        f"mbs {best.get('Max Batch Size', '?')}, concurrency {best.get('Concurrency', '?')}"
    )
    return Answer(
        who,
        wall,
        config,
        _float(best, "Throughput (infer/sec)"),
        _float(best, "p99 Latency (ms)"),
        note=f"{len(rows)} measured points",
    )


def _float(row: dict[str, str], key: str) -> float:
    try:
        return float(row.get(key, "nan") or "nan")
    except ValueError:
        return float("nan")


def print_answers(answers: list[Answer]) -> None:
    print(f"{'who':<22} {'wall s':>8} {'infer/s':>9} {'p99 ms':>7}  config")
    for a in answers:
        print(f"{a.who:<22} {a.wall_s:8.1f} {a.infer_per_s:9,.0f} {a.p99_ms:7.1f}  {a.config}  {a.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ma-brute", action="store_true", help="run MA's brute search (about 22 min)")
    parser.add_argument("--only-ma-brute", action="store_true", help="only MA's brute search (records it)")
    parser.add_argument("--skip-ma", action="store_true", help="no Model Analyzer runs")
    parser.add_argument("--skip-sweep", action="store_true", help="no exhaustive tritonkit sweep")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, shared)")
    with tempfile.TemporaryDirectory(prefix="tritonkit-bench-tune-") as tmp:
        work = Path(tmp)
        repo = make_repository(work)
        server = start_test_server(repo, explicit=True, load_models=["add_sub"])
        try:
            answers: list[Answer] = []
            metrics_port = server.handle.command.metrics_port
            if args.only_ma_brute:
                brute = run_model_analyzer("brute", server.http_url, server.grpc_url, metrics_port, work)
                RECORDED_BRUTE.write_text(
                    json.dumps({**brute.__dict__, "load": os.getloadavg()[0], "date": time.ctime()}, indent=2)
                    + "\n"
                )
                print_answers([brute])
                return
            if not args.skip_ma:
                answers.append(
                    run_model_analyzer("quick", server.http_url, server.grpc_url, metrics_port, work)
                )
                if args.ma_brute:
                    answers.append(
                        run_model_analyzer("brute", server.http_url, server.grpc_url, metrics_port, work)
                    )
            print_answers(answers)
        finally:
            server.stop()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
