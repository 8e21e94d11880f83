"""`bench --sweep`: config variants loaded through the load API, measured, and the original put back.

`Variants` loads variants of the model's config through the load API of a server in explicit
model-control mode and always puts the original back (from disk) at the end, even on error or
Ctrl-C; `run_sweep` measures the brute grid (instance counts x dynamic batching on/off) with it, and
`bench.tune` its searched space.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tritonkit import signals
from tritonkit.bench.apply import apply_variant
from tritonkit.bench.measure import BenchOptions, Progress, measure_grid, python_runtime, start_meter
from tritonkit.bench.result import BenchResult, Budget, Variant
from tritonkit.client.client import Client
from tritonkit.errors import (
    InferenceError,
    InterruptedByUser,
    RepositoryError,
    ServerNotReadyError,
    TritonkitError,
    UsageError,
)
from tritonkit.repository.scan import CONFIG_FILE


def plan_variants(
    config: dict[str, Any],
    instances: list[int],
    batching: list[bool],
    max_batch_sizes: list[int] | None = None,
) -> list[Variant]:
    """The sweep's grid; batching variants (and other max_batch_sizes) only where the model batches."""
    if not instances or any(n < 1 for n in instances):
        raise UsageError(f"instance counts must be >= 1, got {instances}")
    if max_batch_sizes is not None and any(b < 1 for b in max_batch_sizes):
        raise UsageError(f"max batch sizes must be >= 1, got {max_batch_sizes}")
    batches = int(config.get("max_batch_size", 0) or 0) > 0
    settings = [b for b in batching if batches or not b] or [False]
    sizes: list[int | None] = list(dict.fromkeys(max_batch_sizes)) if batches and max_batch_sizes else [None]
    out: list[Variant] = []
    for n in instances:
        for on in dict.fromkeys(settings):
            # without dynamic batching a client batch of 1 never fills a bigger batch: one size is enough
            for size in sizes if on else sizes[:1]:
                out.append(Variant(n, on, size if on else None))
    return out


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
    if variant.max_batch_size is not None:
        out["max_batch_size"] = variant.max_batch_size
    if variant.dynamic_batching is True:
        batching = dict(out.get("dynamic_batching") or {"max_queue_delay_microseconds": queue_delay_us})
        if variant.queue_delay_us is not None:
            batching["max_queue_delay_microseconds"] = variant.queue_delay_us
        if variant.preferred_batch_sizes is not None:
            batching["preferred_batch_size"] = list(variant.preferred_batch_sizes)
        mbs = int(out.get("max_batch_size", 0) or 0)
        if batching.get("preferred_batch_size"):  # the server refuses preferred sizes above max_batch_size
            batching["preferred_batch_size"] = [p for p in batching["preferred_batch_size"] if p <= mbs] or [
                mbs
            ]
        out["dynamic_batching"] = batching
    elif variant.dynamic_batching is False:
        out.pop("dynamic_batching", None)
    return out


class Variants:
    """Loads config variants of one model; leaving the block puts the model back as it was on disk.

    The signal policy (tritonkit/signals.py) holds SIGINT/SIGTERM during each load, the restore and
    an `apply`, so an interrupt always leaves the original config, or the applied one once written,
    on disk and on the server; it then raises InterruptedByUser (exit 130) saying which.
    """

    def __init__(self, client: Client, model: str) -> None:
        self.client = client
        self.model = model
        self.was_ready = False
        self.changed = False
        self.base: dict[str, Any] = {}
        self.applied: list[str] = []  # files an apply wrote: the config on disk is then the applied one

    def apply(self, repository: Path, variant: Variant, queue_delay_us: int = 100) -> list[str]:
        """Write `variant` to disk (config.pbtxt, tritonkit.yaml); leaving the block loads it from there."""
        with signals.deferred():  # both files or neither, then the reload: a signal waits
            self.applied = [str(p) for p in apply_variant(repository, self.model, variant, queue_delay_us)]
        return self.applied

    def __enter__(self) -> Variants:
        signals.say(f"nothing was changed; model {self.model!r} is as it was")
        self.was_ready = self.client.model_ready(self.model)
        if not self.was_ready:
            self.changed = True
            self._load(None)  # from disk, to read its config; unloaded again at the end
        self.base = dict(self.client.model_info(self.model).config)
        return self

    def load(self, variant: Variant, queue_delay_us: int = 100) -> None:
        self.changed = True
        try:
            self._load(json.dumps(variant_config(self.base, variant, queue_delay_us)))
        except InferenceError as exc:
            raise InferenceError(f"the server refused variant '{variant.label}': {exc.message}") from exc

    def _load(self, config_json: str | None) -> None:
        try:
            with signals.deferred():  # a load is never cut in half
                self.client.load_model(self.model, config_json)
        except ServerNotReadyError as exc:
            if "does not allow loading models" not in exc.message:
                raise
            # The server refuses loads alike in model-control modes none and poll: say both.
            raise ServerNotReadyError(
                f"the server at {self.client.url} does not allow loading models (its model-control mode is "
                "none or poll), so config variants cannot be tried",
                hint="start it in explicit model-control mode: "
                "`tritonkit serve --local --detach --model-control-mode explicit`",
            ) from exc

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, KeyboardInterrupt):  # SIGINT or SIGTERM: put a whole config back, say which
            state = f"the state of model {self.model!r} is unknown"
            with contextlib.suppress(KeyboardInterrupt), signals.deferred():  # a second signal waits too
                state = self._settle()
            raise InterruptedByUser(f"bench interrupted ({signals.received()}): {state}") from exc
        if self.changed:
            with signals.deferred():
                restore(self.client, self.model, self.was_ready, quiet=exc is not None)  # an error: the news
                signals.say(self._state())  # an interrupt while the results print leaves this

    def _state(self) -> str:
        """What is on disk and loaded once restored, in words."""
        if self.applied:
            return f"the best variant was written to {', '.join(self.applied)} and is loaded"
        loaded = "loaded again" if self.was_ready else "unloaded again, as it was"
        return f"nothing was written; the original config of {self.model!r} is {loaded}"

    def _settle(self) -> str:
        """After an interrupt: reload the config on disk (original, or applied if written); say which."""
        if self.changed:
            # The interrupted connection may hold half a response: restore over a new one.
            with self.client.fork() as fresh:
                try:
                    restore(fresh, self.model, self.was_ready, quiet=False)
                except TritonkitError as error:
                    return f"{error.message}; {error.hint}"
        return self._state()


def check_apply(apply: bool, repository: Path | None, model: str) -> None:
    if apply and repository is None:
        raise UsageError("--apply needs the repository to write to", hint="pass --repo DIR")
    if apply and repository is not None and not (repository / model / CONFIG_FILE).is_file():
        raise RepositoryError(f"{repository / model / CONFIG_FILE} not found", hint="pass the right --repo")


def check_runtime(result: BenchResult, apply: bool, force: bool) -> None:
    """--apply of tuning measured on tritonkit's Python-backend runtime needs --force (backends differ)."""
    if apply and result.runtime is not None and not force:
        raise UsageError(
            f"not applying: {result.model!r} was measured on {result.runtime}, not on the real backend, "
            "so the best config there may not be the best on a server with it",
            hint="add --force to apply it anyway, or tune on a server with the real backend",
        )


def run_sweep(
    client: Client,
    model: str,
    options: BenchOptions | None = None,
    *,
    instances: list[int] | None = None,
    batching: list[bool] | None = None,
    max_batch_sizes: list[int] | None = None,
    queue_delay_us: int = 100,
    budget: Budget | None = None,
    repository: Path | None = None,
    apply: bool = False,
    force: bool = False,
    progress: Progress | None = None,
) -> BenchResult:
    """Load each config variant into the server, measure it, restore the original; optionally apply the best.

    Needs a server in explicit model-control mode. Nothing is written to disk unless `apply` is set
    (then `repository` is where the winner goes), and the original config is reloaded from disk at
    the end, on success, error or Ctrl-C alike. `client` is the caller's (like `check_models`'s):
    it stays open.
    """
    options = options or BenchOptions()
    check_apply(apply, repository, model)
    started = time.monotonic()
    client.check_server()
    with Variants(client, model) as session:
        meter, result = start_meter(client, model, options)
        result.mode = "sweep"
        check_runtime(result, apply, force)  # before measuring: a refusal at the end would waste the run
        try:
            result.budget = budget
            variants = plan_variants(
                session.base,
                instances or [1, 2],
                batching if batching is not None else [False, True],
                max_batch_sizes,
            )
            total = len(variants) * len(options.batch_sizes) * len(options.concurrency)
            step = [0]
            for variant in variants:
                session.load(variant, queue_delay_us)
                meter.reloaded()
                result.runtime = result.runtime or python_runtime(dict(client.model_info(model).config))
                result.rows += measure_grid(meter, variant, progress, step, total)
        finally:
            meter.close()
        result.best = pick_best(result)
        check_runtime(result, apply, force)
        if apply and repository is not None and result.best is not None:
            result.applied = session.apply(repository, result.best, queue_delay_us)
    result.wall_s = time.monotonic() - started
    return result


def pick_best(result: BenchResult) -> Variant | None:
    """The variant with the highest throughput (at a point within the budget, when there is one)."""
    budget = result.budget
    candidates = [
        v for v in result.variants() if budget is None or any(budget.met(m) for m in result.points(v))
    ]
    return max(candidates, key=lambda v: result.peak(v).infer_per_s) if candidates else None


def restore(client: Client, model: str, was_ready: bool, *, quiet: bool) -> None:
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
