"""Time from `tritonkit serve` to ready, against the bare baseline on the same image/binary and repository.

Docker: `tritonkit serve REPO --detach` (returns once every model is ready) vs `docker run -d ...` plus a
readiness poll of /v2/health/ready (the tutorial's way), on the local CPU image tagged as the default NGC
image. Local: `tritonkit serve --local --detach` vs the bare tritonserver binary of the nvidia-pytriton
wheel (with a prepared backend dir) plus the same poll. Runs alternate; the median of N runs is reported.

Uses $DOCKER_HOST when an engine answers, else starts a private one (scripts/start-dockerd.sh) and
stops it at the end. Builds the test image when absent (docker/test-image/build.sh, cached).
    python benchmarks/bench_serve.py [--runs N] [--skip-docker] [--skip-local]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRITONKIT = [sys.executable, "-m", "tritonkit"]
GOAL = 1.1


def ready(http: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{http}/v2/health/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def poll_ready(http: str, timeout: float = 120.0, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(http):
            return
        if not alive():
            raise RuntimeError(f"the server for {http} exited before it was ready")
        time.sleep(0.02)
    raise RuntimeError(f"{http} not ready after {timeout}s")


def free_port() -> int:
    from tritonkit.serve.ports import free_port as pick

    return pick()


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | (env or {}), timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def scaffold(base: Path) -> Path:
    repo = base / "model_repository"
    run([*TRITONKIT, "init", str(repo)])
    tensors = ["-i", "INPUT0:fp32:4", "-i", "INPUT1:fp32:4", "-o", "OUTPUT0:fp32:4", "-o", "OUTPUT1:fp32:4"]
    run([*TRITONKIT, "add", "add_sub", "-b", "python", "--repo", str(repo), *tensors, "--instances", "2"])
    return repo


def median_times(pairs: list[tuple[str, Callable[[], float]]], runs: int) -> dict[str, float]:
    """Alternate the measured functions `runs` times; median seconds of each."""
    samples: dict[str, list[float]] = {name: [] for name, _ in pairs}
    for _ in range(runs):
        for name, fn in pairs:
            samples[name].append(fn())
    if os.environ.get("BENCH_VERBOSE"):
        print({name: [round(v, 2) for v in values] for name, values in samples.items()})
    return {name: statistics.median(values) for name, values in samples.items()}


def report(figure: str, ours: float, base: float) -> None:
    ratio = ours / base
    verdict = "ok" if ratio <= GOAL else "over goal"
    print(f"{figure}: {ours:.2f} s vs baseline {base:.2f} s = {ratio:.2f}x (goal <= {GOAL} x) {verdict}")


# ---------------------------------------------------------------------------------------------- docker


def engine_env(work: Path) -> tuple[dict[str, str], Path | None]:
    """DOCKER_HOST of an answering engine; starts a private one when none answers."""
    if (
        os.environ.get("DOCKER_HOST")
        and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    ):
        return {"DOCKER_HOST": os.environ["DOCKER_HOST"]}, None
    folder = work / "dockerd"
    out = run(["bash", str(ROOT / "scripts" / "start-dockerd.sh"), str(folder)]).stdout
    host = out.strip().split("=", 1)[1]
    return {"DOCKER_HOST": host}, folder


def bench_docker(repo: Path, runs: int, work: Path) -> None:
    from tritonkit.serve.plan import default_image

    env, own = engine_env(work)
    image = default_image(env={})
    try:
        if subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, env=os.environ | env
        ).returncode:
            print(f"building the local CPU image as {image} ...", file=sys.stderr)
            run(["bash", str(ROOT / "docker/test-image/build.sh"), "tritonkit-test/tritonserver:cpu", image],
                env=env | {"PYTHON": sys.executable})  # fmt: skip

        def tritonkit() -> float:
            ports = [str(free_port()) for _ in range(3)]
            start = time.monotonic()
            ports_args = ["--http-port", ports[0], "--grpc-port", ports[1], "--metrics-port", ports[2]]
            out = run(
                [*TRITONKIT, "serve", str(repo), "--detach", "--name", "bench-tk", *ports_args], env=env
            ).stdout
            elapsed = time.monotonic() - start
            assert "READY" in out, out
            run(["docker", "rm", "-f", "bench-tk"], env=env)
            return elapsed

        def bare() -> float:
            # The tutorial's command: the three ports published, the repository mounted, a large /dev/shm.
            http, grpc, metrics = (free_port() for _ in range(3))
            start = time.monotonic()
            cmd = [
                "docker",
                "run",
                "-d",
                "--name",
                "bench-bare",
                "--shm-size=1g",
                "-p",
                f"127.0.0.1:{http}:8000",
            ]
            cmd += [
                "-p",
                f"127.0.0.1:{grpc}:8001",
                "-p",
                f"127.0.0.1:{metrics}:8002",
                "-v",
                f"{repo}:/models:ro",
            ]
            run([*cmd, image, "tritonserver", "--model-repository=/models"], env=env)
            poll_ready(f"127.0.0.1:{http}")
            elapsed = time.monotonic() - start
            run(["docker", "rm", "-f", "bench-bare"], env=env)
            return elapsed

        times = median_times([("tritonkit", tritonkit), ("bare", bare)], runs)
        report("docker: serve to ready (median)", times["tritonkit"], times["bare"])
    finally:
        if own is not None:
            subprocess.run(["bash", str(ROOT / "scripts" / "stop-dockerd.sh"), str(own)], check=False)
            shutil.rmtree(own, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- local


def scaffold_torch(base: Path) -> Path | None:
    """A repository with one TorchScript model (tritonkit's pytorch runtime); None without torch."""
    try:
        import warnings

        import torch
    except ImportError:
        return None
    repo = base / "torch" / "model_repository"
    run([*TRITONKIT, "init", str(repo)])
    run(
        [
            *TRITONKIT,
            "add",
            "lin",
            "-b",
            "pytorch",
            "--repo",
            str(repo),
            "-i",
            "INPUT__0:fp32:8",
            "-o",
            "OUTPUT__0:fp32:4",
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.trace(torch.nn.Linear(8, 4), torch.zeros(8)).save(str(repo / "lin" / "1" / "model.pt"))
    return repo


def bench_local(repo: Path, runs: int, figure: str = "local: serve --local to ready (median)") -> None:
    from tritonkit.serve.binary import find_install, server_env
    from tritonkit.serve.install import prepare_backend_dir

    install = find_install()
    backend_dir = prepare_backend_dir(install)  # the bare baseline gets the same prepared backend dir
    env_bare = os.environ | server_env(install, os.environ)
    log_path = repo.parent / "bare.log"

    def tritonkit() -> float:
        start = time.monotonic()
        out = run([*TRITONKIT, "serve", str(repo), "--local", "--detach", "--name", "bench-local",
                   "--http-port", "0", "--grpc-port", "0", "--metrics-port", "0"]).stdout  # fmt: skip
        elapsed = time.monotonic() - start
        assert "READY" in out, out
        run([*TRITONKIT, "stop", "bench-local"])
        return elapsed

    def bare() -> float:
        ports = [free_port() for _ in range(3)]
        prefix = f"bench_{os.getpid()}_{time.monotonic_ns()}_"
        log = open(log_path, "wb")  # noqa: SIM115
        start = time.monotonic()
        process = subprocess.Popen(
            [
                str(install.binary),
                f"--model-repository={repo}",
                f"--backend-directory={backend_dir}",
                f"--http-port={ports[0]}",
                f"--grpc-port={ports[1]}",
                f"--metrics-port={ports[2]}",
                f"--backend-config=python,shm-region-prefix-name={prefix}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env_bare,
            start_new_session=True,
        )
        try:
            poll_ready(f"127.0.0.1:{ports[0]}", alive=lambda: process.poll() is None)
            return time.monotonic() - start
        except RuntimeError:
            print(log_path.read_text(errors="replace")[-2000:], file=sys.stderr)
            raise
        finally:
            log.close()
            from tritonkit.serve.process import end_server, identify, remove_shm

            end_server(identify(process.pid), prefix)
            process.wait(10)
            remove_shm(prefix)

    times = median_times([("tritonkit", tritonkit), ("bare", bare)], runs)
    report(figure, times["tritonkit"], times["bare"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-docker", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tritonkit-bench-serve-") as tmp:
        work = Path(tmp)
        os.environ["XDG_STATE_HOME"] = str(
            work / "state"
        )  # the bench's servers stay out of the user's status
        repo = scaffold(work)
        print(f"repository: one python model, 2 instances ({json.dumps(str(repo))}); runs: {args.runs}")
        if not args.skip_local:
            bench_local(repo, args.runs)
            torch_repo = scaffold_torch(work)
            if torch_repo is not None:
                # A realistic start (the stub imports torch): the CLI's fixed cost weighs less.
                bench_local(
                    torch_repo, max(3, args.runs // 2), "local: serve --local to ready, TorchScript model"
                )
        if not args.skip_docker:
            if shutil.which("dockerd") is None and not os.environ.get("DOCKER_HOST"):
                print("docker: skipped (no dockerd; run scripts/start-dockerd.sh)")
            else:
                bench_docker(repo, args.runs, work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
