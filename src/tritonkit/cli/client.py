"""Commands that talk to a running server: infer, test, bench.

Over 400 lines because bench alone declares over a dozen options (sweep, tune, input data, outputs); the
functions only parse, call one API function and print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from tritonkit.cli._app import RepoOption, app, echo
from tritonkit.errors import FindingsError, UsageError

if TYPE_CHECKING:
    from numpy.typing import NDArray

UrlOption = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional at runtime on 3.10
    typer.Option(
        "--url", "-u", help="Server host:port (default localhost:8000 for http, localhost:8001 for grpc)."
    ),
]
ServerOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--server", help="A server tritonkit started, by name (default: the only one running)."),
]
ProtocolOption = Annotated[str, typer.Option("--protocol", "-p", help="http or grpc.")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait for the server per request.")
]


def _server_url(url: str | None, server: str | None, protocol: str) -> str | None:
    """--url, else the server tritonkit started (--server NAME, or the only one running), else None."""
    from tritonkit.serve.registry import server_url

    if url:
        return server_url(url, server, protocol)
    from tritonkit.serve.docker import connect_or_none

    return server_url(None, server, _protocol(protocol), connect_or_none())


def _protocol(value: str) -> str:
    protocol = value.strip().lower()
    if protocol not in ("http", "grpc"):
        raise UsageError(f"unknown protocol {value!r}", hint="use --protocol http or --protocol grpc")
    return protocol


def _format_array(value: NDArray[Any], limit: int = 12) -> str:
    import numpy as np

    flat = value.reshape(-1)
    if value.dtype == object:
        items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat[:limit]]
        text = "[" + ", ".join(repr(i) for i in items) + (", ..." if flat.size > limit else "") + "]"
        return text
    with np.printoptions(precision=5, suppress=True, threshold=limit, edgeitems=3, linewidth=100):
        return " ".join(np.array2string(value, separator=", ").split())


def _jsonable(value: NDArray[Any]) -> Any:
    if value.dtype == object:
        return (
            [(v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for v in value.reshape(-1)]
            if value.ndim
            else value.item()
        )
    return value.tolist()


def _golden_ranges(model: str) -> dict[str, tuple[int, int]]:
    """Integer ranges from the model's golden sample in the local project, if there is one (token ids)."""
    from tritonkit.client.inputs import value_ranges
    from tritonkit.errors import TritonkitError
    from tritonkit.repository.golden import GOLDEN_FILE, load_golden
    from tritonkit.repository.project import resolve_repository

    try:
        model_dir = resolve_repository(None) / model
        if not (model_dir / GOLDEN_FILE).is_file():
            return {}
        return value_ranges(load_golden(model_dir).inputs)
    except (TritonkitError, OSError, ValueError):
        return {}  # no project here, or an unreadable sample: the default range


@app.command()
def infer(
    model: Annotated[str, typer.Argument(help="Model name on the server.")],
    input_: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--input",
            "-i",
            help="NAME=@file.npy, NAME='[[1,2,3]]' (JSON), or a bare value for a one-input model (repeat).",
        ),
    ] = None,
    random: Annotated[
        bool, typer.Option("--random", help="Random data of the right shape for every input.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", help="Batch size for --random.")] = 1,
    output: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--output", "-o", help="Only return these outputs (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print outputs as JSON.")] = False,
    save: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--save", help="Save each output as DIR/NAME.npy."),
    ] = None,
    url: UrlOption = None,
    server: ServerOption = None,
    protocol: ProtocolOption = "http",
    version: Annotated[str, typer.Option("--model-version", help="Model version (default: latest).")] = "",
    timeout: TimeoutOption = 60.0,
) -> None:
    """Run one inference: data types, shapes and the batch dim come from the server."""
    from tritonkit.client.client import Client
    from tritonkit.client.inputs import bind_inputs, parse_input_arg, random_inputs

    if not input_ and not random:
        raise UsageError("no input given", hint="give --input NAME=VALUE (repeatable) or --random")
    if input_ and random:
        raise UsageError("--input and --random exclude each other")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    with Client(_server_url(url, server, protocol), _protocol(protocol), timeout=timeout) as client:
        info = client.model_info(model, version)
        if random:
            ranges = _golden_ranges(model)
            values: dict[str, Any] = dict(random_inputs(info, batch_size=batch_size, ranges=ranges))
        else:
            values = bind_inputs([parse_input_arg(t) for t in input_ or []], info)
        outputs = client.infer(model, values, outputs=output, version=version)
    if save is not None:
        import numpy as np

        save.mkdir(parents=True, exist_ok=True)
        for name, value in outputs.items():
            np.save(save / f"{name}.npy", value, allow_pickle=value.dtype == object)
    if as_json:
        payload = {
            "model": model,
            "outputs": {
                name: {
                    "datatype": next(t.wire_type for t in info.outputs if t.name == name),
                    "shape": list(value.shape),
                    "data": _jsonable(value),
                }
                for name, value in outputs.items()
            },
        }
        echo(json.dumps(payload))
        return
    for name, value in outputs.items():
        wire = next(t.wire_type for t in info.outputs if t.name == name)
        echo(f"{name}  {wire}  {list(value.shape)}")
        echo("  " + _format_array(value))
    if save is not None:
        echo(f"saved {len(outputs)} output(s) to {save}/")


@app.command("test")
def test_models(
    models: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="Models to test (default: every model of the repository with a golden sample)."),
    ] = None,
    repo: RepoOption = None,
    url: UrlOption = None,
    server: ServerOption = None,
    protocol: ProtocolOption = "http",
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    timeout: TimeoutOption = 60.0,
) -> None:
    """Send each model's golden sample (saved by export) and compare the answers. Exit 1 on a mismatch."""
    from tritonkit.client.client import Client
    from tritonkit.client.replay import check_models
    from tritonkit.repository.project import resolve_repository

    repository = resolve_repository(repo)
    with Client(_server_url(url, server, protocol), _protocol(protocol), timeout=timeout) as client:
        results = check_models(client, repository, list(models or []))
    failed = [r for r in results if r.status == "fail"]
    passed = [r for r in results if r.status == "pass"]
    if as_json:
        echo(
            json.dumps(
                {
                    "ok": not failed,
                    "models": [
                        {
                            "model": r.model,
                            "status": r.status,
                            "detail": r.detail,
                            "max_abs_diff": r.max_abs_diff,
                        }
                        for r in results
                    ],
                }
            )
        )
    else:
        for r in results:
            diff = "" if r.max_abs_diff is None else f"  (max abs diff {r.max_abs_diff:.3g})"
            echo(f"{r.status.upper():4}  {r.model}: {r.detail}{diff}")
        skipped = len(results) - len(failed) - len(passed)
        echo(f"{len(passed)} passed, {len(failed)} failed" + (f", {skipped} skipped" if skipped else ""))
    if failed:
        raise FindingsError(
            f"{len(failed)} model(s) failed: " + ", ".join(r.model for r in failed),
            hint="re-export the model (tritonkit export) if the change is intended",
        )


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError as exc:
        raise UsageError(f"{what}: {text!r} is not a list of integers", hint="write e.g. 1,2,4") from exc
    if not values:
        raise UsageError(f"{what}: give at least one value")
    return values


def _on_off_list(text: str) -> list[bool]:
    table = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}
    values = []
    for item in text.replace(" ", "").lower().split(","):
        if item not in table:
            raise UsageError(f"--batching: {item!r} is not on/off", hint="write e.g. --batching off,on")
        values.append(table[item])
    return values


@app.command()
def bench(
    model: Annotated[str, typer.Argument(help="Model name on the server.")],
    concurrency: Annotated[
        str,
        typer.Option("--concurrency", "-c", help="Concurrency levels, e.g. 1,2,4 (--tune searches its own)."),
    ] = "1,2,4",
    batch_size: Annotated[str, typer.Option("--batch-size", "-b", help="Batch sizes, e.g. 1,4.")] = "1",
    duration: Annotated[float, typer.Option("--duration", help="Seconds measured per point.")] = 2.0,
    warmup: Annotated[
        float, typer.Option("--warmup", help="Warm-up seconds before each point (built-in).")
    ] = 0.3,
    requests: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--requests", help="At most this many requests per point (built-in engine)."),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="auto (perf_analyzer if set up), builtin, perf_analyzer.")
    ] = "auto",
    shape: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--shape", help="NAME:DIMS for an input with variable dims, e.g. input_ids:32 (repeat)."
        ),
    ] = None,
    input_data: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--input-data",
            help="Values to send: an .npz/.json file by input name, or 'golden' (the model's golden sample).",
        ),
    ] = None,
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep", help="Try a grid of config variants (server in explicit model-control mode)."
        ),
    ] = False,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune",
            help="Search instances, dynamic batching, max_batch_size and concurrency for the best config "
            "within --latency-budget (server in explicit model-control mode).",
        ),
    ] = False,
    latency_budget: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--latency-budget", help="e.g. p99=20ms: --tune's limit (and --sweep's, when given)."),
    ] = None,
    instances: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--instances", help="Instance counts (--sweep default 1,2; --tune default 1-4)."),
    ] = None,
    batching: Annotated[
        str, typer.Option("--batching", help="Dynamic batching settings for --sweep.")
    ] = "off,on",
    max_batch_size: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--max-batch-size", help="max_batch_size values (--sweep: as configured; --tune: 1-64)."
        ),
    ] = None,
    max_concurrency: Annotated[
        int, typer.Option("--max-concurrency", help="Highest concurrency --tune tries.")
    ] = 1024,
    queue_delay_us: Annotated[
        int,
        typer.Option("--queue-delay-us", help="max_queue_delay_microseconds when --sweep turns batching on."),
    ] = 100,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="Write the best variant's swept fields to config.pbtxt and tritonkit.yaml."
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="--apply even when measured on tritonkit's Python-backend runtime."),
    ] = False,
    repo: RepoOption = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Write the results as CSV.")] = None,  # noqa: UP045
    json_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--json", help="Write the results as JSON ('-' for stdout)."),
    ] = None,
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--plot", help="Save the charts as a PNG (needs matplotlib)."),
    ] = None,
    html_path: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--html", help="Save an HTML report: details, table and charts in one file."),
    ] = None,
    stability: Annotated[
        float,
        typer.Option(
            "--stability", help="Percent the windows of a point may differ before it is remeasured."
        ),
    ] = 15.0,
    max_runs: Annotated[
        int, typer.Option("--max-runs", help="Measure an unstable point at most this often.")
    ] = 3,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    url: UrlOption = None,
    server: ServerOption = None,
    protocol: ProtocolOption = "http",
) -> None:
    """Measure requests/s, inferences/s and p50/p90/p99 latency; --sweep tries a grid, --tune searches."""
    import sys

    from tritonkit.bench.data import parse_shape
    from tritonkit.bench.run import (
        BenchOptions,
        Budget,
        TuneSpace,
        format_table,
        render_html,
        run_bench,
        run_sweep,
        run_tune,
        save_plot,
    )  # fmt: skip
    from tritonkit.client.client import Client
    from tritonkit.repository.project import resolve_repository

    if apply and not (sweep or tune):
        raise UsageError("--apply needs --sweep or --tune")
    if sweep and tune:
        raise UsageError("--sweep and --tune exclude each other", hint="--sweep: the grid; --tune: a search")
    if tune and latency_budget is None:
        raise UsageError("--tune needs a --latency-budget", hint="e.g. --latency-budget p99=20ms")
    budget = Budget.parse(latency_budget) if latency_budget is not None else None
    repository = resolve_repository(repo)
    shapes = dict(parse_shape(text) for text in shape or [])
    url = _server_url(url, server, protocol)
    options = BenchOptions(
        concurrency=_int_list(concurrency, "--concurrency"),
        batch_sizes=_int_list(batch_size, "--batch-size"),
        duration_s=duration,
        warmup_s=max(warmup, 0.0),
        max_requests=requests,
        engine=engine,
        shapes=shapes,
        input_data=input_data,
        repository=repository if repository.is_dir() else None,
        stability_pct=stability,
        max_runs=max_runs,
    )
    tty = sys.stderr.isatty()

    def progress(done: int, total: int, what: str) -> None:
        if quiet:
            return
        line = f"[{done}/{total}] {what}" if total else f"[{done}] {what}"
        if tty:
            typer.echo("\r\033[K" + line, err=True, nl=False)
        elif " infer/s" in what:  # in a log, only the finished points
            echo(line, err=True)

    sizes = _int_list(max_batch_size, "--max-batch-size") if max_batch_size else None
    counts = _int_list(instances, "--instances") if instances else None
    if tune:
        assert budget is not None
        space = TuneSpace(instances=counts, max_batch_sizes=sizes, max_concurrency=max_concurrency)
        with Client(url, _protocol(protocol)) as client:
            result = run_tune(
                client, model, budget, options, space=space,
                repository=repository if apply else None, apply=apply, force=force, progress=progress,
            )  # fmt: skip
    elif sweep:
        with Client(url, _protocol(protocol)) as client:
            result = run_sweep(
                client, model, options, instances=counts or [1, 2],
                batching=_on_off_list(batching), max_batch_sizes=sizes, queue_delay_us=queue_delay_us,
                budget=budget, repository=repository if apply else None, apply=apply, force=force,
                progress=progress,
            )  # fmt: skip
    else:
        with Client(url, _protocol(protocol)) as client:
            result = run_bench(client, model, options, progress=progress)
        result.budget = budget
    if tty and not quiet:
        typer.echo("\r\033[K", err=True, nl=False)
    if json_path is not None and str(json_path) == "-":
        echo(json.dumps(result.to_dict()))
        return
    echo(f"{model} at {result.url} ({result.protocol}, engine: {result.engine}, inputs: {result.inputs})")
    if result.runtime is not None:
        echo(f"note: {model} runs through {result.runtime}, not the real backend")
    echo(format_table(result))
    for label, verdict in result.verdicts.items():
        echo(f"  {label}: {verdict}")
    if tune:
        echo(f"searched {len(result.variants())} configs, {len(result.rows)} points in {result.wall_s:.0f} s")
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        csv_path.write_text(result.to_csv(), encoding="utf-8")
        echo(f"wrote {csv_path}")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
        echo(f"wrote {json_path}")
    if plot is not None:
        echo(f"wrote {save_plot(result, plot)}")
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(result), encoding="utf-8")
        echo(f"wrote {html_path}")
    for path in result.applied:
        echo(f"applied the best variant to {path}")
    if (sweep or tune) and not apply:
        echo("nothing was written; the original config is loaded again (use --apply to keep the best)")
