"""validate agrees with the real Triton 2.51 server, error for error, on tests/validate_corpus.py: a model
validate calls an error, the server refuses to load; a model it passes (or only warns about), it loads.

One tritonserver (nvidia-pytriton wheel) in explicit model-control mode with `--exit-on-error=false` serves
the whole corpus; every model is loaded through the repository API, several at a time, and kept loaded
(ensembles after the models they call). A load that does not answer within LOAD_TIMEOUT counts as refused:
a Python model whose stub dies (no model.py) hangs its load forever. validate runs as for this machine:
artifacts looked at, no GPU (`gpus=0`), the default target (24.10 = 2.51, the wheel's server).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import validate_corpus
from conftest import require_server
from tritonkit.validate.engine import validate_repository

pytestmark = pytest.mark.server
LOAD_TIMEOUT = 180.0  # a safety net: on a loaded 2-core machine a Python stub takes seconds
SERVER_CASES = sorted(name for name, case in validate_corpus.CASES.items() if case.server)


def _load(url: str, model: str) -> str | None:
    """None when the model loaded, else the server's reason (or that the load did not answer)."""
    quoted = urllib.request.quote(model, safe="@+")  # the server does not decode %2B
    request = urllib.request.Request(
        f"{url}/v2/repository/models/{quoted}/load", data=b"{}", method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=LOAD_TIMEOUT):
            return None
    except urllib.error.HTTPError as exc:
        return str(json.loads(exc.read() or b"{}").get("error", exc.code))
    except TimeoutError:
        return f"the load did not answer within {LOAD_TIMEOUT:.0f} s"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("agreement") / "repo"
    return validate_corpus.build(repo, server_only=True)


@pytest.fixture(scope="module")
def verdicts(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str | None]]:
    """Model -> None (loaded) or the server's reason for refusing it."""
    require_server()
    from tritonkit.serve.local import plan_local_server
    from tritonkit.serve.plan import ServeOptions
    from tritonkit.serve.process import end_server, identify, remove_shm

    options = ServeOptions(model_control_mode="explicit", server_args=["--model-load-thread-count=4"])
    command = plan_local_server(repository, options)
    log = tmp_path_factory.mktemp("agreement-log") / "tritonserver.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command.argv, env={**os.environ, **command.env}, stdin=subprocess.DEVNULL, stdout=handle,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{command.http_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/v2/health/live", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"tritonserver did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
        ensembles = [n for n in SERVER_CASES if 'platform: "ensemble"' in _config_text(repository, n)]
        others = [n for n in SERVER_CASES if n not in ensembles]
        results: dict[str, str | None] = {}
        with ThreadPoolExecutor(max_workers=8) as pool:
            for batch in (others, ensembles):  # members first, so ensembles find them loaded
                results.update(zip(batch, pool.map(lambda m: _load(url, m), batch), strict=True))
        yield results
    finally:
        end_server(identify(process.pid), command.shm_prefix)
        process.wait(timeout=30)
        remove_shm(command.shm_prefix)


def _config_text(repository: Path, name: str) -> str:
    path = repository / name / "config.pbtxt"
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


@pytest.fixture(scope="module")
def errors(repository: Path) -> dict[str, list[str]]:
    report = validate_repository(repository, artifacts=True, gpus=0)
    found: dict[str, list[str]] = {name: [] for name in SERVER_CASES}
    for f in report.errors:
        found.setdefault(f.model or "", []).append(f"{f.rule}: {f.message}")
    return found


def test_the_corpus_is_big_enough() -> None:
    assert len(SERVER_CASES) >= 150
    assert sum(validate_corpus.CASES[n].loads for n in SERVER_CASES) >= 60  # accepted variants too


@pytest.mark.parametrize("model", SERVER_CASES)
def test_validate_and_server_agree(
    model: str, verdicts: dict[str, str | None], errors: dict[str, list[str]]
) -> None:
    refused = verdicts[model]
    if refused is None:
        assert errors[model] == [], f"validate calls {model} an error but the server loads it"
    else:
        assert errors[model], f"the server refused {model} ({refused}) but validate found no error"
    # The corpus records the verdict too, so the offline tests hold the server's answer.
    assert validate_corpus.CASES[model].loads == (refused is None), refused
