"""`bench --sweep`: config variants loaded through the load API, measured, and the original put back.

`run_sweep` loads variants of the model's config (instance counts x dynamic batching on/off) through
the load API of a server in explicit model-control mode, measures each, and always puts the original
back (from disk) at the end, even on error or Ctrl-C.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from tritonkit.bench.apply import apply_variant
from tritonkit.bench.measure import BenchOptions, Progress, _measure_points, _pick_engine
from tritonkit.bench.result import BenchResult, Variant
from tritonkit.client.client import Client
from tritonkit.errors import InferenceError, RepositoryError, ServerNotReadyError, TritonkitError, UsageError
from tritonkit.repository.scan import CONFIG_FILE


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
    if apply and repository is not None and not (repository / model / CONFIG_FILE).is_file():
        raise RepositoryError(f"{repository / model / CONFIG_FILE} not found", hint="pass the right --repo")
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
