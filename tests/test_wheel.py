"""The installed wheel: templates inside it, and `tritonkit add` / `validate` working from it.

Builds the wheel from this source tree (`python -m build --wheel` when `build` is installed, else
`pip wheel --no-deps`), installs it with `--no-deps` into a fresh venv that borrows this venv's
dependencies, and runs the installed console script from a folder outside the source tree.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ("config.pbtxt.j2", "python/model.py.j2", "python/model_bls.py.j2")


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    if importlib.util.find_spec("hatchling") is not None:  # offline: the build backend is already here
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, ROOT)
    elif importlib.util.find_spec("build") is not None:
        _run(sys.executable, "-m", "build", "--wheel", "--outdir", out, ROOT)
    else:
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT)
    [built] = out.glob("tritonkit-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("venv") / "v"
    _run(sys.executable, "-m", "venv", "--without-pip", target)
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        target / "bin" / "python",
        "install",
        "-q",
        "--no-deps",
        wheel,
    )
    # Borrow this venv's installed dependencies (typer, jinja2, protobuf, tritonclient...) without its
    # tritonkit: the fresh venv's own site-packages, holding the wheel, comes first on sys.path.
    site = next((target / "lib").glob("python3*/site-packages"))
    (site / "zz_borrowed_deps.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    )
    return target


def test_wheel_contains_the_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in TEMPLATES:
        assert f"tritonkit/templates/{template}" in names
    assert "tritonkit/cli/__init__.py" in names and "tritonkit/validate/rules/layout.py" in names


def test_installed_package_uses_its_own_templates(venv: Path, tmp_path: Path) -> None:
    out = _run(
        venv / "bin" / "python",
        "-c",
        "import tritonkit, tritonkit.repository.render as r; "
        "print(tritonkit.__file__); print(r.templates_dir())",
        cwd=tmp_path,
    )
    package_file, templates = out.splitlines()
    assert package_file.startswith(str(venv)), package_file
    assert templates.startswith(str(venv)) and Path(templates, "config.pbtxt.j2").is_file()


def test_add_and_validate_from_the_installed_wheel(venv: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    tritonkit = venv / "bin" / "tritonkit"
    _run(tritonkit, "init", cwd=tmp_path, env=env)
    _run(tritonkit, "add", "py", "--backend", "python", "--input", "x:fp32:4", "--output", "y:fp32:4",
         cwd=tmp_path, env=env)  # fmt: skip
    _run(tritonkit, "add", "bls", "--backend", "python", "--bls-target", "py", "--input", "x:fp32:4",
         "--output", "y:fp32:4", cwd=tmp_path, env=env)  # fmt: skip
    _run(tritonkit, "add", "pt", "--backend", "pytorch", "--input", "INPUT__0:fp32:4", "--output",
         "OUTPUT__0:fp32:4", "--max-batch-size", "8", cwd=tmp_path, env=env)  # fmt: skip
    assert "TritonPythonModel" in (tmp_path / "model_repository" / "bls" / "1" / "model.py").read_text()
    assert "validate" in _run(tritonkit, "--help", cwd=tmp_path, env=env)
    out = _run(tritonkit, "validate", "--no-artifacts", cwd=tmp_path, env=env)
    assert out.startswith("ok: 0 errors, 0 warnings in 3 models")
    _run(tritonkit, "render", "--check", cwd=tmp_path, env=env)
