"""Benchmarks of the client area, each against its baseline in the same run.

1. `tritonkit.Client.infer` reused as a library vs a bare tritonclient call for the same request
   (add_sub, batch 1, binary tensors), per request, HTTP and gRPC. Goal: <= 1.10x.
2. `bench --sweep` on the two-instance Python add_sub example: dynamic batching and more
   instances vs the default config (2 instances, no batching), as QPS ratios. Measured twice:
   with the model as shipped (no work in execute) and with `execute_delay_ms` = 2 (simulated
   per-batch compute, as on a GPU), where batching can pay off.

Run: .venv/bin/python benchmarks/bench_client.py   (needs the nvidia-pytriton wheel)
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from client_support import EXAMPLES, start_test_server  # noqa: E402
from tritonkit.bench.run import BenchOptions, run_sweep  # noqa: E402
from tritonkit.client.client import Client  # noqa: E402

REQUESTS = 1000
ROUNDS = 10


def bare_call(url: str, protocol: str) -> tuple[object, object]:
    """A bare tritonclient request, built once like a careful user would, and the function sending it."""
    if protocol == "grpc":
        import tritonclient.grpc as tc
    else:
        import tritonclient.http as tc  # type: ignore[no-redef]
    conn = tc.InferenceServerClient(url)
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    y = np.ones((1, 4), dtype=np.float32)

    def send() -> object:
        a, b = tc.InferInput("INPUT0", [1, 4], "FP32"), tc.InferInput("INPUT1", [1, 4], "FP32")
        if protocol == "grpc":
            a.set_data_from_numpy(x)
            b.set_data_from_numpy(y)
        else:
            a.set_data_from_numpy(x, binary_data=True)
            b.set_data_from_numpy(y, binary_data=True)
        result = conn.infer("add_sub", [a, b])
        return result.as_numpy("OUTPUT0"), result.as_numpy("OUTPUT1")

    return conn, send


def per_request_us(send: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        send()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def overhead(url: str, protocol: str) -> None:
    conn, bare = bare_call(url, protocol)
    client = Client(url, protocol)
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    y = np.ones((1, 4), dtype=np.float32)

    def ours() -> object:
        return client.infer("add_sub", {"INPUT0": x, "INPUT1": y})

    for fn in (bare, ours):  # warm-up: connections, metadata cache
        per_request_us(fn, 200)
    bare_t, ours_t = [], []
    for i in range(ROUNDS):  # interleaved rounds in alternating order, so drift hits both alike
        if i % 2:
            ours_t.append(per_request_us(ours, REQUESTS))
            bare_t.append(per_request_us(bare, REQUESTS))
        else:
            bare_t.append(per_request_us(bare, REQUESTS))
            ours_t.append(per_request_us(ours, REQUESTS))
    b, o = statistics.median(bare_t), statistics.median(ours_t)
    # The ratio of each round's pair (same load, same moment), then the median: drift cancels out.
    ratio = statistics.median(ot / bt for ot, bt in zip(ours_t, bare_t, strict=True))
    print(
        f"Client.infer per request ({protocol}): {o:.1f} us vs baseline bare tritonclient {b:.1f} us "
        f"= {ratio:.3f}x (median of {ROUNDS} paired rounds; goal <= 1.10x)"
    )
    # The client's own CPU time per request: what tritonkit adds, without the server's share of the
    # two cores (the wall-clock ratio above moves by several % between identical runs on this machine).
    cpu = {}
    for name, fn in (("bare", bare), ("ours", ours)):
        t0 = time.process_time()
        per_request_us(fn, REQUESTS * 3)
        cpu[name] = (time.process_time() - t0) / (REQUESTS * 3) * 1e6
    extra = cpu["ours"] - cpu["bare"]
    print(
        f"Client.infer client CPU per request ({protocol}): {extra:+.1f} us "
        f"({cpu['ours']:.1f} vs {cpu['bare']:.1f}) over a bare request of {b:.1f} us "
        f"= {(b + extra) / b:.3f}x (goal <= 1.10x)"
    )
    # The part that is tritonkit's own (name/type/shape checks), timed without the network noise.
    from tritonkit.client.tensors import coerce_inputs

    info = client.model_info("add_sub")
    n = 20000
    start = time.perf_counter()
    for _ in range(n):
        coerce_inputs(info, {"INPUT0": x, "INPUT1": y})
    checks = (time.perf_counter() - start) / n * 1e6
    print(
        f"Client input checks per request ({protocol}): {checks:.1f} us vs baseline bare request {b:.1f} us "
        f"= {(b + checks) / b:.3f}x (goal <= 1.10x)"
    )
    client.close()
    conn.close()  # type: ignore[attr-defined]


def sweep(delay_ms: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="tk-bench-client-"))
    try:
        repo = work / "model_repository"
        shutil.copytree(EXAMPLES / "python_pipeline" / "model_repository" / "add_sub", repo / "add_sub")
        config = repo / "add_sub" / "config.pbtxt"
        config.write_text(config.read_text().replace('string_value: "0"', f'string_value: "{delay_ms}"'))
        server = start_test_server(repo, explicit=True, load_models=["add_sub"])
        try:
            options = BenchOptions(concurrency=[8], batch_sizes=[1], duration_s=2.0, warmup_s=0.3)
            with Client(server.http_url) as client:
                result = run_sweep(client, "add_sub", options, instances=[2, 4], batching=[False, True])
        finally:
            server.stop()
        variants = result.variants()
        base = result.peak(variants[0]).infer_per_s  # 2 instances, no batching: the example as shipped
        label = f"execute_delay_ms={delay_ms}"
        print(f"sweep of add_sub ({label}, concurrency 8, engine {result.engine}):")
        for v in variants:
            qps = result.peak(v).infer_per_s
            mark = "  <- best" if v == result.best else ""
            print(
                f"  add_sub QPS, {v.label} ({label}): {qps:,.0f} infer/s vs baseline default "
                f"(2 instances, no batching) {base:,.0f} infer/s = {qps / base:.2f}x{mark}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    repo = EXAMPLES / "python_pipeline" / "model_repository"
    work = Path(tempfile.mkdtemp(prefix="tk-bench-client-"))
    try:
        shutil.copytree(repo / "add_sub", work / "add_sub")
        server = start_test_server(work)
        try:
            overhead(server.http_url, "http")
            overhead(server.grpc_url, "grpc")
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sweep(0)
    sweep(2)


if __name__ == "__main__":
    main()
