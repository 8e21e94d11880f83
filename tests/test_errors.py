"""The exception tree and its exit codes, as the README documents them and the CLI applies them."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from tritonkit import errors
from tritonkit.cli import run
from tritonkit.errors import ExitCode, MissingDependencyError, TritonkitError, import_optional

README = Path(__file__).resolve().parent.parent / "README.md"


def _classes() -> list[type[BaseException]]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, BaseException) and c.__module__ == errors.__name__
    ]


def test_every_exception_is_under_the_one_base_with_a_documented_code() -> None:
    table = README.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    classes = _classes()
    assert len(classes) >= 10
    for cls in classes:
        assert issubclass(cls, TritonkitError), cls
        assert cls.__doc__ and cls.__doc__.strip(), cls
        assert int(cls.exit_code) in documented, cls
    assert {int(c) for c in ExitCode} == documented


def test_a_missing_optional_dependency_is_one_error_naming_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # as if the SDK were not installed
    with pytest.raises(MissingDependencyError) as caught:
        import_optional("docker", package="the docker SDK", extra="docker", needed_for="serve")
    exc = caught.value
    assert exc.exit_code == ExitCode.UNAVAILABLE and exc.extra == "docker"
    assert exc.hint == "pip install 'tritonkit[docker]'" and isinstance(exc.__cause__, ImportError)
    # the API raises it where it needs the package
    from tritonkit.serve.docker import connect

    with pytest.raises(MissingDependencyError, match="the docker SDK") as caught:
        connect()
    assert caught.value.hint == "pip install 'tritonkit[docker]', or use --local"


def test_export_without_torch_names_the_torch_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tritonkit.export.run import export_model

    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError) as caught:
        export_model(object(), None, repo=tmp_path / "repo", name="m")
    assert caught.value.extra == "torch" and caught.value.exit_code == 3
    assert not (tmp_path / "repo").exists()


def test_validate_exits_1_through_the_error_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r" / "m").mkdir(parents=True)
    (tmp_path / "r" / "m" / "config.pbtxt").write_text("name: [\n")
    assert run(["validate", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert re.search(r"^error: 1 error in .+/r$", err, re.MULTILINE) and "\nhint: " in err


def test_debug_shows_the_exception_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m" / "config.pbtxt").mkdir(parents=True)  # unreadable: a folder, not a file
    assert run(["describe", "m", "--repo", str(tmp_path)]) == 2
    plain = capsys.readouterr().err
    assert plain.startswith("error: cannot read") and "Traceback" not in plain
    assert run(["--debug", "describe", "m", "--repo", str(tmp_path)]) == 2
    debug = capsys.readouterr().err
    assert "IsADirectoryError" in debug and "direct cause of the following exception" in debug
    assert "RepositoryError: cannot read" in debug and "\nerror: cannot read" in debug


def test_ctrl_c_exits_130_through_interrupted_by_user(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tritonkit.validate.engine as engine

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "validate_repository", interrupted)
    assert run(["--debug", "validate", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert "InterruptedByUser: interrupted (SIGINT)" in err and err.rstrip().endswith(
        "\ninterrupted (SIGINT)"
    )


@pytest.mark.parametrize(
    ("output", "unstable"),
    [
        ("Failed to obtain stable measurement within 3 measurement windows for concurrency 2.", True),
        ("No valid requests recorded within time interval. Please use a larger time window.", True),
        ("error: failed to get model metadata: unknown model", False),
    ],
)
def test_perf_analyzer_failures_are_told_apart_by_class(
    output: str, unstable: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in perf_analyzer prints one of its failure lines; bench branches on the class it raises."""
    from tritonkit.bench import perf_analyzer
    from tritonkit.errors import InferenceError, UnstableMeasurementError

    fake = tmp_path / "perf_analyzer"
    fake.write_text(
        '#!/bin/sh\ncase "$1" in --help) echo "--concurrency-range"; exit 0;; esac\n'
        f"echo {output!r} >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("TRITONKIT_PERF_ANALYZER", str(fake))
    perf_analyzer.find_perf_analyzer.cache_clear()
    try:
        with pytest.raises(InferenceError) as caught:
            perf_analyzer.measure_with_perf_analyzer(
                "localhost:1", "http", "m", concurrency=1, batch_size=1, duration_s=0.1
            )
    finally:
        perf_analyzer.find_perf_analyzer.cache_clear()
    assert isinstance(caught.value, UnstableMeasurementError) is unstable
    assert output.split(".")[0] in caught.value.message
