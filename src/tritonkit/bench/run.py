"""`tritonkit bench`: throughput and latency percentiles over concurrency and batch sizes, and config sweeps.

`run_bench` measures the model as loaded. `run_sweep` loads variants of the model's config (instance
counts x dynamic batching on/off) through the load API of a server in explicit model-control mode,
measures each, and always puts the original back (from disk) at the end, even on error or Ctrl-C.
`apply_variant` writes a chosen variant to config.pbtxt and tritonkit.yaml (only with --apply).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.bench.loadgen import Measurement, measure
from tritonkit.client.client import Client
from tritonkit.errors import InferenceError, RepositoryError, ServerNotReadyError, TritonkitError, UsageError

ENGINES = ("auto", "builtin", "perf_analyzer")
Progress = Callable[[int, int, str], None]  # (done, total, what is being measured)


@dataclass
class BenchOptions:
    """What to measure: concurrency levels x batch sizes, each for `duration_s` after a warm-up."""

    concurrency: list[int] = field(default_factory=lambda: [1, 2, 4])
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    duration_s: float = 2.0
    warmup_s: float = 0.3
    max_requests: int | None = None  # per point, for the built-in engine
    engine: str = "auto"

    def __post_init__(self) -> None:
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise UsageError(f"concurrency levels must be >= 1, got {self.concurrency}")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise UsageError(f"batch sizes must be >= 1, got {self.batch_sizes}")
        if self.duration_s <= 0:
            raise UsageError(f"--duration must be > 0, got {self.duration_s}")
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}", hint="use auto, builtin or perf_analyzer")


@dataclass(frozen=True)
class Variant:
    """A config variant of a sweep: instance count and dynamic batching (None = as configured)."""

    instances: int | None = None
    dynamic_batching: bool | None = None

    @property
    def label(self) -> str:
        if self.instances is None and self.dynamic_batching is None:
            return "as configured"
        parts = []
        if self.instances is not None:
            parts.append(f"{self.instances} instance{'s' if self.instances != 1 else ''}")
        if self.dynamic_batching is not None:
            parts.append("dynamic batching" if self.dynamic_batching else "no batching")
        return ", ".join(parts)


@dataclass
class BenchRow:
    variant: Variant
    measurement: Measurement


@dataclass
class BenchResult:
    """Every measured point; `best` indexes the variant with the highest throughput (sweeps)."""

    model: str
    url: str
    protocol: str
    engine: str
    rows: list[BenchRow] = field(default_factory=list)
    best: Variant | None = None
    applied: list[str] = field(default_factory=list)  # files written by --apply

    def variants(self) -> list[Variant]:
        seen: list[Variant] = []
        for row in self.rows:
            if row.variant not in seen:
                seen.append(row.variant)
        return seen

    def peak(self, variant: Variant) -> Measurement:
        """The highest-throughput point of a variant."""
        return max((r.measurement for r in self.rows if r.variant == variant), key=lambda m: m.infer_per_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "url": self.url,
            "protocol": self.protocol,
            "engine": self.engine,
            "best": None if self.best is None else {**asdict(self.best), "label": self.best.label},
            "applied": list(self.applied),
            "rows": [
                {"variant": r.variant.label, "instances": r.variant.instances,
                 "dynamic_batching": r.variant.dynamic_batching, **asdict(r.measurement)}
                for r in self.rows
            ],
        }  # fmt: skip

    def to_csv(self) -> str:
        import csv
        import io

        buffer = io.StringIO()
        columns = ["variant", "instances", "dynamic_batching", "batch_size", "concurrency", "infer_per_s",
                   "p50_ms", "p90_ms", "p99_ms", "requests", "seconds", "engine"]  # fmt: skip
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in self.to_dict()["rows"]:
            writer.writerow(row)
        return buffer.getvalue()


def _pick_engine(engine: str) -> str:
    if engine == "builtin":
        return "builtin"
    from tritonkit.bench.perf_analyzer import find_perf_analyzer

    found = find_perf_analyzer() is not None
    if engine == "perf_analyzer" and not found:
        from tritonkit.errors import EngineUnavailableError

        raise EngineUnavailableError(
            "perf_analyzer is not available here",
            hint="run scripts/get-perf-analyzer.sh, or use --engine builtin",
        )
    return "perf_analyzer" if found else "builtin"


def _measure_points(
    client: Client,
    model: str,
    options: BenchOptions,
    engine: str,
    variant: Variant,
    progress: Progress | None,
    step: list[int],
    total: int,
    inputs: dict[int, dict[str, Any]] | None = None,
) -> list[BenchRow]:
    """Measure every (batch size, concurrency) point of the model as currently loaded."""
    from tritonkit.client.inputs import random_inputs

    info = client.model_info(model)
    rows = []
    for batch in options.batch_sizes:
        if batch > 1 and not info.batched:
            raise UsageError(f"model {model!r} does not batch (max_batch_size 0): use --batch-size 1")
        if info.batched and batch > info.max_batch_size:
            raise UsageError(f"batch size {batch} is above {model!r}'s max_batch_size {info.max_batch_size}")
        data = (inputs or {}).get(batch) or random_inputs(info, batch_size=batch)
        for conc in options.concurrency:
            if progress:
                progress(step[0], total, f"{variant.label}: batch {batch}, concurrency {conc}")
            m: Measurement | None = None
            if engine == "perf_analyzer":
                from tritonkit.bench.perf_analyzer import measure_with_perf_analyzer

                shapes = {t.name: [d if d > 0 else 1 for d in t.dims] for t in info.inputs if -1 in t.dims}
                try:
                    m = measure_with_perf_analyzer(
                        client.url, client.protocol, model, concurrency=conc, batch_size=batch,
                        duration_s=options.duration_s, shapes=shapes,
                    )  # fmt: skip
                except InferenceError as exc:
                    with client.fork() as probe:
                        alive = probe.server_ready()
                    if not alive:  # perf_analyzer failed because the server went away
                        raise ServerNotReadyError(
                            f"the server stopped answering during the benchmark ({exc.message})",
                            hint="check the server log (`tritonkit logs`)",
                        ) from exc
                    if "stable measurement" not in exc.message:
                        raise
                    # perf_analyzer found no stable window: this point is measured by the built-in engine
            if m is None:
                m = measure(
                    client, model, data, concurrency=conc, batch_size=batch, duration_s=options.duration_s,
                    warmup_s=options.warmup_s, max_requests=options.max_requests,
                )  # fmt: skip
            rows.append(BenchRow(variant, m))
            step[0] += 1
            if progress:
                progress(step[0], total, f"{variant.label}: batch {batch}, concurrency {conc}: "
                         f"{m.infer_per_s:,.0f} infer/s, p99 {m.p99_ms:.2f} ms")  # fmt: skip
    return rows


def run_bench(
    url: str | None,
    model: str,
    options: BenchOptions | None = None,
    *,
    protocol: str = "http",
    progress: Progress | None = None,
) -> BenchResult:
    """Measure `model` as loaded: infer/s and p50/p90/p99 latency for each batch size x concurrency."""
    options = options or BenchOptions()
    client = Client(url, protocol)
    try:
        client.check_server()
        client.model_info(model)
        engine = _pick_engine(options.engine)
        total = len(options.batch_sizes) * len(options.concurrency)
        rows = _measure_points(client, model, options, engine, Variant(), progress, [0], total)
    finally:
        client.close()
    return BenchResult(model, client.url, client.protocol, engine, rows)


def plan_variants(config: dict[str, Any], instances: list[int], batching: list[bool]) -> list[Variant]:
    """The sweep's variants; batching variants only where the model batches (max_batch_size > 0)."""
    if not instances or any(n < 1 for n in instances):
        raise UsageError(f"instance counts must be >= 1, got {instances}")
    batches = int(config.get("max_batch_size", 0) or 0) > 0
    settings = [b for b in batching if batches or not b] or [False]
    return [Variant(n, b) for n in instances for b in dict.fromkeys(settings)]


def variant_config(config: dict[str, Any], variant: Variant, queue_delay_us: int = 100) -> dict[str, Any]:
    """The model's config (as the server reports it, JSON) changed to `variant`."""
    out = copy.deepcopy(config)
    if variant.instances is not None:
        groups = out.get("instance_group") or [{}]
        kind = groups[0].get("kind", "KIND_CPU") or "KIND_CPU"
        group: dict[str, Any] = {"count": variant.instances, "kind": kind}
        if groups[0].get("gpus"):
            group["gpus"] = groups[0]["gpus"]
        out["instance_group"] = [group]
    if variant.dynamic_batching is True:
        existing = out.get("dynamic_batching")
        out["dynamic_batching"] = existing or {"max_queue_delay_microseconds": queue_delay_us}
    elif variant.dynamic_batching is False:
        out.pop("dynamic_batching", None)
    return out


def run_sweep(
    url: str | None,
    model: str,
    options: BenchOptions | None = None,
    *,
    protocol: str = "http",
    instances: list[int] | None = None,
    batching: list[bool] | None = None,
    queue_delay_us: int = 100,
    repository: Path | None = None,
    apply: bool = False,
    progress: Progress | None = None,
) -> BenchResult:
    """Load each config variant into the server, measure it, restore the original; optionally apply the best.

    Needs a server in explicit model-control mode. Nothing is written to disk unless `apply` is set
    (then `repository` is where the winner goes), and the original config is reloaded from disk at
    the end, on success, error or Ctrl-C alike.
    """
    options = options or BenchOptions()
    if apply and repository is None:
        raise UsageError("--apply needs the repository to write to", hint="pass --repo DIR")
    if apply and repository is not None and not (repository / model / "config.pbtxt").is_file():
        raise RepositoryError(
            f"{repository / model / 'config.pbtxt'} not found", hint="pass the right --repo"
        )
    client = Client(url, protocol)
    client.check_server()
    engine = _pick_engine(options.engine)
    was_ready = client.model_ready(model)
    changed = False
    result = BenchResult(model, client.url, client.protocol, engine)
    try:
        if not was_ready:
            changed = True
            client.load_model(model)  # from disk, to read its config; unloaded again at the end
        base = dict(client.model_info(model).config)
        variants = plan_variants(
            base, instances or [1, 2], batching if batching is not None else [False, True]
        )
        total = len(variants) * len(options.batch_sizes) * len(options.concurrency)
        step = [0]
        for variant in variants:
            config_json = json.dumps(variant_config(base, variant, queue_delay_us))
            changed = True
            try:
                client.load_model(model, config_json)
            except InferenceError as exc:
                raise InferenceError(f"the server refused variant '{variant.label}': {exc.message}") from exc
            result.rows += _measure_points(client, model, options, engine, variant, progress, step, total)
        result.best = max(result.variants(), key=lambda v: result.peak(v).infer_per_s)
        if apply and repository is not None:
            result.applied = [str(p) for p in apply_variant(repository, model, result.best, queue_delay_us)]
    except BaseException:
        if changed:
            _restore(client, model, was_ready, quiet=True)  # the error in flight is the news
        client.close()
        raise
    try:
        if changed:
            _restore(client, model, was_ready, quiet=False)
    finally:
        client.close()
    return result


def _restore(client: Client, model: str, was_ready: bool, *, quiet: bool) -> None:
    """Put the model back as it was: reloaded from its config on disk, or unloaded."""
    try:
        # A load without a config keeps the last override loaded: only unload + load reads the disk again.
        client.unload_model(model)
        if was_ready:
            deadline = time.monotonic() + 30
            while client.model_ready(model) and time.monotonic() < deadline:
                time.sleep(0.05)
            client.load_model(model)
    except TritonkitError as exc:
        if not quiet:
            raise ServerNotReadyError(
                f"could not restore model {model!r} after the sweep: {exc.message}",
                hint="reload it by hand (POST /v2/repository/models/NAME/load) or restart the server",
            ) from exc


def apply_variant(repository: Path, model: str, variant: Variant, queue_delay_us: int = 100) -> list[Path]:
    """Write `variant` to the model's config.pbtxt, and to tritonkit.yaml when it records the model."""
    from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec
    from tritonkit.repository.layout import write_text_atomic
    from tritonkit.repository.project import load_project
    from tritonkit.repository.render import render_config

    config_path = repository / model / "config.pbtxt"
    project = load_project(repository)
    spec = project.model(model)
    if spec is not None:
        if variant.instances is not None:
            first = spec.instance_groups[0] if spec.instance_groups else InstanceGroupSpec()
            spec.instance_groups = [InstanceGroupSpec(variant.instances, first.kind, list(first.gpus))]
        if variant.dynamic_batching is True and spec.dynamic_batching is None:
            spec.dynamic_batching = DynamicBatchingSpec(max_queue_delay_microseconds=queue_delay_us)
        elif variant.dynamic_batching is False:
            spec.dynamic_batching = None
        project.upsert(spec)
        write_text_atomic(config_path, render_config(spec))
        write_text_atomic(project.spec_path, project.to_yaml())
        return [config_path, project.spec_path]
    # Not in tritonkit.yaml: edit the parsed config with the official schema.
    from google.protobuf import text_format

    from tritonkit.model.schema import parse_config

    config = parse_config(config_path.read_text(encoding="utf-8"))
    if variant.instances is not None:
        kind = config.instance_group[0].kind if config.instance_group else None
        gpus = list(config.instance_group[0].gpus) if config.instance_group else []
        del config.instance_group[:]
        group = config.instance_group.add()
        group.count = variant.instances
        group.kind = kind if kind is not None else config.instance_group[0].KIND_CPU
        group.gpus.extend(gpus)
    if variant.dynamic_batching is True and not config.HasField("dynamic_batching"):
        config.dynamic_batching.max_queue_delay_microseconds = queue_delay_us
    elif variant.dynamic_batching is False:
        config.ClearField("dynamic_batching")
    text = "# Written by `tritonkit bench --sweep --apply`.\n" + text_format.MessageToString(config)
    write_text_atomic(config_path, text)
    return [config_path]


def format_table(result: BenchResult) -> str:
    """The results as a text table; in a sweep the best variant's peak row is marked."""
    header = ["config", "batch", "conc", "infer/s", "p50 ms", "p90 ms", "p99 ms", ""]
    lines = []
    best_row = result.peak(result.best) if result.best is not None else None
    for row in result.rows:
        m = row.measurement
        mark = "<- best" if best_row is not None and m is best_row else ""
        lines.append([row.variant.label, str(m.batch_size), str(m.concurrency), f"{m.infer_per_s:,.1f}",
                      f"{m.p50_ms:.2f}", f"{m.p90_ms:.2f}", f"{m.p99_ms:.2f}", mark])  # fmt: skip
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in (0, 7) else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]
    if result.best is not None and len(result.variants()) > 1:
        baseline = result.peak(result.variants()[0]).infer_per_s
        best = result.peak(result.best)
        ratio = best.infer_per_s / baseline if baseline else float("nan")
        out.append("")
        out.append(
            f"best: {result.best.label}: {best.infer_per_s:,.1f} infer/s at concurrency {best.concurrency} "
            f"({ratio:.2f}x the first variant, {result.variants()[0].label})"
        )
    return "\n".join(out)


def save_plot(result: BenchResult, path: Path) -> Path:
    """A PNG of throughput and p99 latency against concurrency, one line per variant and batch size."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise UsageError(
            "--plot needs matplotlib", hint="pip install matplotlib (into tritonkit's venv)"
        ) from exc
    fig, (ax_qps, ax_p99) = plt.subplots(1, 2, figsize=(11, 4.2))
    for variant in result.variants():
        for batch in sorted({r.measurement.batch_size for r in result.rows if r.variant == variant}):
            points = sorted(
                (
                    r.measurement
                    for r in result.rows
                    if r.variant == variant and r.measurement.batch_size == batch
                ),
                key=lambda m: m.concurrency,
            )
            label = variant.label + (f", batch {batch}" if batch != 1 else "")
            xs = [m.concurrency for m in points]
            ax_qps.plot(xs, [m.infer_per_s for m in points], marker="o", label=label)
            ax_p99.plot(xs, [m.p99_ms for m in points], marker="o", label=label)
    ax_qps.set(title=f"{result.model}: throughput", xlabel="concurrency", ylabel="infer/s")
    ax_p99.set(title=f"{result.model}: p99 latency", xlabel="concurrency", ylabel="ms")
    for ax in (ax_qps, ax_p99):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
