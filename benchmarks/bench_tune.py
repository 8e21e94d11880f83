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
- tritonkit's exhaustive `--sweep`: every config of the space at concurrency 8..256 (the reference for
  "within 5%").

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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from client_support import EXAMPLES, start_test_server  # noqa: E402
from tritonkit.bench.measure import BenchOptions, Meter, start_meter  # noqa: E402
from tritonkit.bench.result import BenchResult, Budget, Variant  # noqa: E402
from tritonkit.bench.sweep import Variants, run_sweep  # noqa: E402
from tritonkit.bench.tune import TuneSpace, run_tune  # noqa: E402
from tritonkit.client.client import Client  # noqa: E402

MA_VENV = Path(os.environ.get("TRITONKIT_MA_VENV", "/var/tmp/tritonkit-ma-venv"))
MA_VERSION = "1.58.0"
BUDGET_MS = 50.0
MAX_INSTANCES = 5
MAX_BATCH = 128
# The last MA brute run (`--ma-brute`), recorded so a regular `make bench` does not spend 22 minutes.
RECORDED_BRUTE = ROOT / "benchmarks" / "bench_tune_ma_brute.json"


@dataclass
class Answer:
    """A contender's answer: how long it took, the config it names, and its own measured figures."""

    who: str
    wall_s: float
    config: str
    infer_per_s: float
    p99_ms: float
    note: str = ""
    variant: dict[str, Any] | None = None  # Variant fields, to measure the answer again here
    concurrency: int = 0
    again_infer_per_s: float = float("nan")  # the answer measured again by one meter, in this run
    again_p99_ms: float = float("nan")


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
    """The best row within the budget of Model Analyzer's table, with the config it wrote for it."""
    table = next(out.rglob("metrics-model-inference.csv"), None)
    if table is None:
        sys.exit(f"error: no metrics-model-inference.csv under {out}")
    rows = list(csv.DictReader(table.open()))
    tput = next(k for k in rows[0] if k.startswith("Throughput"))
    p99 = next(k for k in rows[0] if k.startswith("p99"))
    ok = [r for r in rows if _float(r, p99) <= BUDGET_MS]
    if not ok:
        return Answer(who, wall, "(none meets the budget)", 0.0, float("nan"))
    best = max(ok, key=lambda r: _float(r, tput))
    name = best.get("Model Config Path", "")
    variant = _variant_of(out / "output_model_repository" / name / "config.pbtxt")
    return Answer(
        who, wall, f"{name}: {Variant(**variant).label}", _float(best, tput), _float(best, p99),
        note=f"{len(rows)} points", variant=variant, concurrency=int(best.get("Concurrency", "1")),
    )  # fmt: skip


def _variant_of(config_path: Path) -> dict[str, Any]:
    from tritonkit.model.schema import parse_config

    config = parse_config(config_path.read_text())
    batching = config.HasField("dynamic_batching")
    return {
        "instances": sum(g.count for g in config.instance_group) or 1,
        "dynamic_batching": batching,
        "max_batch_size": config.max_batch_size if batching else None,
        "queue_delay_us": config.dynamic_batching.max_queue_delay_microseconds if batching else None,
        "preferred_batch_sizes": tuple(config.dynamic_batching.preferred_batch_size) or None
        if batching
        else None,
    }


def _float(row: dict[str, str], key: str) -> float:
    try:
        return float(row.get(key, "nan") or "nan")
    except ValueError:
        return float("nan")


def _answer(who: str, result: BenchResult) -> Answer:
    if result.best is None:
        return Answer(who, result.wall_s, "(none meets the budget)", 0.0, float("nan"))
    m = result.peak(result.best)
    fields = result.best.fields()
    fields["preferred_batch_sizes"] = tuple(fields["preferred_batch_sizes"] or ()) or None
    return Answer(
        who, result.wall_s, result.best.label, m.infer_per_s, m.p99_ms,
        note=f"{len(result.variants())} configs, {len(result.rows)} points", variant=fields,
        concurrency=m.concurrency,
    )  # fmt: skip


def options(duration_s: float) -> BenchOptions:
    return BenchOptions(duration_s=duration_s, warmup_s=0.2, engine="perf_analyzer", max_runs=2)


def _progress(done: int, total: int, what: str) -> None:
    if " infer/s" in what:
        print(f"  [{done}{'/' + str(total) if total else ''}] {what}", flush=True)


def run_tritonkit_tune(url: str) -> Answer:
    space = TuneSpace(
        instances=list(range(1, MAX_INSTANCES + 1)),
        max_batch_sizes=[1 << k for k in range(8) if 1 << k <= MAX_BATCH],
        max_concurrency=1024,
    )
    with Client(url) as client:
        result = run_tune(
            client, "add_sub", Budget("p99", BUDGET_MS), options(1.0), space=space, progress=_progress
        )
    return _answer("tritonkit --tune", result)


def run_tritonkit_sweep(url: str) -> Answer:
    opts = options(1.0)
    opts.concurrency = [1 << k for k in range(3, 9)]  # 8..256: below 8 no config of this space peaks
    opts.max_runs = 1
    with Client(url) as client:
        result = run_sweep(
            client, "add_sub", opts, instances=list(range(1, MAX_INSTANCES + 1)), batching=[False, True],
            max_batch_sizes=[1 << k for k in range(8) if 1 << k <= MAX_BATCH],
            budget=Budget("p99", BUDGET_MS), progress=_progress,
        )  # fmt: skip
    return _answer("tritonkit --sweep (grid)", result)


def measure_again(url: str, answers: list[Answer]) -> None:
    """Every answer's config at its concurrency, measured by one meter here (3 x 3 s, the mean), in turn."""
    with Client(url) as client, Variants(client, "add_sub") as session:
        meter: Meter
        meter, _ = start_meter(client, "add_sub", options(3.0))
        try:
            for a in answers:
                if a.variant is None:
                    continue
                session.load(Variant(**a.variant))
                meter.reloaded()
                points = [meter.point(a.concurrency, 1) for _ in range(3)]
                a.again_infer_per_s = sum(m.infer_per_s for m in points) / len(points)
                a.again_p99_ms = max(m.p99_ms for m in points)
        finally:
            meter.close()


def print_answers(answers: list[Answer]) -> None:
    print(f"{'who':<26} {'wall s':>7} {'infer/s':>8} {'p99 ms':>7} {'again/s':>8} {'p99':>6}  config")
    for a in answers:
        print(
            f"{a.who:<26} {a.wall_s:7.1f} {a.infer_per_s:8,.0f} {a.p99_ms:7.1f} {a.again_infer_per_s:8,.0f} "
            f"{a.again_p99_ms:6.1f}  {a.config}, concurrency {a.concurrency} ({a.note})"
        )


def print_goals(answers: dict[str, Answer]) -> None:
    tune, quick = answers.get("tritonkit --tune"), answers.get("MA quick")
    brute, grid = answers.get("MA brute"), answers.get("tritonkit --sweep (grid)")
    if tune is None:
        return
    for other, what in ((brute, "MA brute"), (grid, "the exhaustive sweep"), (quick, "MA quick")):
        if other is None or not other.infer_per_s:
            continue
        own = tune.infer_per_s / other.infer_per_s
        again = tune.again_infer_per_s / other.again_infer_per_s if other.again_infer_per_s else float("nan")
        print(f"--tune throughput / {what}: {own:.2f}x as each measured it, {again:.2f}x measured again here")
    if quick is not None:
        print(
            f"--tune wall time / MA quick: {tune.wall_s / quick.wall_s:.2f}x "
            f"({tune.wall_s:.0f} s vs {quick.wall_s:.0f} s)"
        )
    if brute is not None:
        print(f"--tune wall time / MA brute: {tune.wall_s / brute.wall_s:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ma-brute", action="store_true", help="run MA's brute search (about 22 min)")
    parser.add_argument("--only-ma-brute", action="store_true", help="only MA's brute search (records it)")
    parser.add_argument("--skip-ma", action="store_true", help="no Model Analyzer runs")
    parser.add_argument("--skip-sweep", action="store_true", help="no exhaustive tritonkit sweep")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, shared)", flush=True)
    with tempfile.TemporaryDirectory(prefix="tritonkit-bench-tune-") as tmp:
        work = Path(tmp)
        repo = make_repository(work)
        server = start_test_server(repo, explicit=True, load_models=["add_sub"])
        try:
            found: list[Answer] = []
            http, grpc, metrics = server.http_url, server.grpc_url, server.handle.command.metrics_port
            if args.only_ma_brute or args.ma_brute:
                brute = run_model_analyzer("brute", http, grpc, metrics, work)
                record = {**brute.__dict__, "load": os.getloadavg()[0], "date": time.ctime()}
                RECORDED_BRUTE.write_text(json.dumps(record, indent=2, default=list) + "\n")
                found.append(brute)
                if args.only_ma_brute:
                    print_answers(found)
                    return
            elif RECORDED_BRUTE.is_file() and not args.skip_ma:
                record = json.loads(RECORDED_BRUTE.read_text())
                print(f"MA brute: recorded on {record.pop('date')} (load {record.pop('load'):.1f})")
                chosen = record.get("variant") or {}
                if chosen.get("preferred_batch_sizes"):
                    chosen["preferred_batch_sizes"] = tuple(chosen["preferred_batch_sizes"])
                found.append(Answer(**{**record, "note": record["note"] + ", recorded"}))
            if not args.skip_ma:
                found.insert(0, run_model_analyzer("quick", http, grpc, metrics, work))
                print(f"MA quick: {found[0].wall_s:.0f} s", flush=True)
            found.append(run_tritonkit_tune(http))
            print(f"tritonkit --tune: {found[-1].wall_s:.0f} s", flush=True)
            if not args.skip_sweep:
                found.append(run_tritonkit_sweep(http))
                print(f"tritonkit --sweep: {found[-1].wall_s:.0f} s", flush=True)
            measure_again(http, found)
            print_answers(found)
            print_goals({a.who: a for a in found})
        finally:
            server.stop()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
