"""Layout rules: the model folder, its config.pbtxt and its version folders, as Triton reads them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from tritonkit.model.backends import model_file_for
from tritonkit.repository.scan import CONFIG_FILE, child_path
from tritonkit.validate.findings import Family

if TYPE_CHECKING:
    from tritonkit.validate.context import ModelContext, RepositoryContext
    from tritonkit.validate.findings import Finding

FAMILY = Family("layout", "the model folder, its config.pbtxt and version folders as Triton reads them")
_LOAD = "ModelRepositoryManager::Poll / LocalizeRepoAndLoad (core/src/model_repository_manager)"
_VERSIONS = (
    "ModelLifeCycle::AsyncLoad and GetVersionsToLoad version policy (core/src/model_repository_manager)"
)
ODD_MODEL_NAME = FAMILY.rule(
    "odd-model-name",
    "warning",
    "a model folder name that URLs and shells handle badly",
    mirrors="none: the server accepts any folder name; clients put it in URLs",
)
BROKEN_LINK = FAMILY.rule(
    "broken-link",
    "error",
    "a symbolic link that points nowhere or loops",
    mirrors="LocalFileSystem::IsDirectory / FileExists (core/src/filesystem/implementations/local.h)",
)
CONFIG_IN_VERSION = FAMILY.rule(
    "config-in-version",
    "error",
    "config.pbtxt inside a version folder and none beside it",
    mirrors="GetNormalizedModelConfig reads <model>/config.pbtxt only (core/src/model_config_utils.cc)",
)
IGNORED_VERSION_CONFIG = FAMILY.rule(
    "ignored-version-config",
    "warning",
    "a second config.pbtxt inside a version folder, ignored",
    mirrors="GetNormalizedModelConfig reads <model>/config.pbtxt only (core/src/model_config_utils.cc)",
)
NAME_MISMATCH = FAMILY.rule(
    "name-mismatch",
    "error",
    "the config's name differs from its folder name",
    mirrors="ModelRepositoryManager: 'unexpected directory name ... must equal model name' (core)",
)
MISSING_POLICY_VERSION = FAMILY.rule(
    "missing-policy-version",
    "warning",
    "the version policy names a version folder that does not exist",
    mirrors=_VERSIONS,
)
NO_POLICY_VERSION = FAMILY.rule(
    "no-policy-version", "error", "none of the versions the version policy names exists", mirrors=_VERSIONS
)
NO_VERSION = FAMILY.rule("no-version", "error", "a model with no version folder", mirrors=_VERSIONS)
MISSING_MODEL_FILE = FAMILY.rule(
    "missing-model-file",
    "error",
    "a loaded version folder without the model file",
    mirrors="the backend's TRITONBACKEND_ModelInstanceInitialize opening <version>/<default_model_filename>",
)
VERSION_LEADING_ZERO = FAMILY.rule(
    "version-leading-zero",
    "warning",
    "a version folder such as 01, which Triton ignores",
    mirrors="GetModelVersionFromPath: the folder name as an integer (core/src/model_repository_manager)",
)
NON_NUMERIC_VERSION = FAMILY.rule(
    "non-numeric-version",
    "warning",
    "a folder with digits in its name that is not a version folder",
    mirrors="GetModelVersionFromPath skips folders that are not integers (core/src/model_repository_manager)",
)
MISSING_CONFIG = FAMILY.rule(
    "missing-config",
    "error",
    "a model folder without config.pbtxt and no file to auto-complete from",
    mirrors="GetNormalizedModelConfig + AutoCompleteBackendFields (core/src/model_config_utils.cc)",
)
CONFIG_NOT_FILE = FAMILY.rule(
    "config-not-file",
    "error",
    "config.pbtxt is a folder, FIFO or device (it aborts or hangs the server)",
    mirrors="ReadTextProto of <model>/config.pbtxt (core/src/filesystem, model_config_utils.cc)",
)
MISSING_LABEL_FILE = FAMILY.rule(
    "missing-label-file",
    "error",
    "an output's label_filename names a file the model folder does not have",
    mirrors="Model::Init: label_provider_->AddLabels(<model>/<label_filename>) (core/src/model.cc)",
)
AUTO_COMPLETE_CONFIG = FAMILY.rule(
    "auto-complete-config",
    "warning",
    "no config.pbtxt: Triton guesses the backend from the model file",
    mirrors="AutoCompleteBackendFields (core/src/model_config_utils.cc)",
)

# Model files from which Triton picks a backend and auto-completes a missing config.pbtxt; the
# backend fills in inputs and outputs where it can (ONNX, TensorRT, TF; Python via auto_complete_config).
_AUTOCOMPLETE_FILES = {
    "model.onnx": "onnxruntime",
    "model.plan": "tensorrt",
    "model.savedmodel": "tensorflow",
    "model.graphdef": "tensorflow",
    "model.py": "python",
    "model.pt": "pytorch",
}
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def model_filename(model: ModelContext) -> str | None:
    """The file Triton loads from each version folder; None for ensembles and unknown backends."""
    config = model.config
    if config is None or model.is_ensemble:
        return None
    named = model.name.partition(".")[2]
    if not config.default_model_filename and not config.backend and named and model.backend == named:
        return f"model.{named}"  # a custom backend named by the folder: model.<backend>
    return model_file_for(model.platform, model.backend, str(config.default_model_filename))


def selected_versions(model: ModelContext) -> tuple[list[int], list[int]]:
    """(versions the version policy loads that exist, versions it names that do not exist)."""
    available = sorted(model.version_dirs)
    config = model.config
    if config is None or not config.HasField("version_policy"):
        return available[-1:], []
    policy = config.version_policy
    if policy.HasField("all"):
        return available, []
    if policy.HasField("specific"):
        wanted = sorted(set(int(v) for v in policy.specific.versions))
        present = model.version_dirs
        return [v for v in wanted if v in present], [v for v in wanted if v not in present]
    count = int(policy.latest.num_versions) if policy.HasField("latest") else 1
    return available[-max(count, 1) :], []


def check(model: ModelContext, repo: RepositoryContext) -> list[Finding]:
    findings: list[Finding] = []
    name = model.name
    if not _SAFE_NAME.fullmatch(name):
        findings.append(
            model.finding(
                ODD_MODEL_NAME,
                f"model folder name {name!r} has characters that URLs and shells handle badly",
                hint="use letters, digits, '_', '-' and '.'",
                file=str(model.path),
            )
        )
    for link in model.broken_links:
        findings.append(
            model.finding(
                BROKEN_LINK,
                f"{link} is a symbolic link that points nowhere (or loops)",
                file=str(model.path / link),
                hint="remove the link or point it at a real file or folder",
            )
        )

    versions = model.version_dirs
    ordered = sorted(versions) if len(versions) > 1 else versions
    in_versions = [v for v in ordered if _config_in(versions[v])]
    if not model.has_config:
        findings.extend(_missing_config(model, in_versions, repo))
        return findings
    for version in in_versions:
        findings.append(
            model.finding(
                IGNORED_VERSION_CONFIG,
                f"{version}/{CONFIG_FILE} is ignored: Triton reads only {name}/{CONFIG_FILE}",
                file=str(model.versions[version] / CONFIG_FILE),
                hint="keep one config.pbtxt beside the version folders and remove this one",
            )
        )

    config = model.config
    if config is not None and config.name and config.name != name:
        findings.append(
            model.finding(
                NAME_MISMATCH,
                f"config name {config.name!r} differs from its folder name {name!r}",
                "name",
                hint=f'rename the folder to {config.name!r} or set name: "{name}"'
                if _SAFE_NAME.fullmatch(config.name)
                else f'set name: "{name}"',
            )
        )

    if model.leading_zero_dirs or model.other_dirs:
        findings.extend(_version_folders(model))
    if config is None:
        return findings
    # Without model files to look at, only a version policy naming missing versions is worth the sort.
    if repo.artifacts or config.HasField("version_policy"):
        loaded, missing = selected_versions(model)
    else:
        loaded, missing = [], []
    if missing:
        # Triton loads the versions that exist, and fails only when none of them does.
        findings.append(
            model.finding(
                MISSING_POLICY_VERSION if loaded else NO_POLICY_VERSION,
                f"version_policy names version(s) {', '.join(map(str, missing))} but no such folder exists"
                + ("" if loaded else "; Triton will not load the model"),
                "version_policy[0].specific[0].versions",
                "version_policy",
                hint=f"create {', '.join(f'{name}/{v}/' for v in missing)} or fix version_policy",
            )
        )
    elif not model.version_dirs:
        findings.append(
            model.finding(
                NO_VERSION,
                f"model {name!r} has no version folder; Triton will not load it",
                hint=f"create {name}/1/"
                + ("" if model.is_ensemble else " with the model file in it")
                + (" (an empty 1/ for an ensemble)" if model.is_ensemble else ""),
            )
        )
    if repo.artifacts:
        for index, output in enumerate(config.output):
            label = str(output.label_filename)
            if label and not (model.path / label).is_file():
                findings.append(
                    model.finding(
                        MISSING_LABEL_FILE,
                        f"output {output.name!r} names label_filename {label!r}, which is not in {name}/",
                        f"output[{index}].label_filename",
                        f"output[{index}]",
                        hint=f"add {name}/{label} (one label per line) or remove label_filename",
                    )
                )
    if repo.artifacts and loaded:
        filename = model_filename(model)
        # Python model files are source code, checked (always) by the python rules.
        if filename and model.backend != "python":
            for version in loaded:
                path = model.versions[version] / filename
                if not path.exists():
                    findings.append(
                        model.finding(
                            MISSING_MODEL_FILE,
                            f"version {version} has no {filename}",
                            "default_model_filename",
                            "platform",
                            "backend",
                            hint=f"put {filename} in {model.versions[version]}/ (tritonkit export does it), "
                            "or validate with --no-artifacts",
                        )
                    )
    return findings


def _config_in(version_dir: str) -> bool:
    """A config.pbtxt in a version folder (Triton ignores it). `access` first: a stat of a missing file
    raises inside `isfile` (an exception object per version folder), `access` just returns False."""
    path = child_path(version_dir, CONFIG_FILE)
    return os.access(path, os.F_OK) and os.path.isfile(path)


def _version_folders(model: ModelContext) -> list[Finding]:
    findings: list[Finding] = []
    for folder in sorted(model.leading_zero_dirs):
        number = int(folder)
        findings.append(
            model.finding(
                VERSION_LEADING_ZERO,
                f"version folder {folder!r} has leading zeros, so Triton ignores it"
                + (f" (version {number} is folder {str(number)!r})" if number in model.version_dirs else ""),
                file=str(model.path / folder),
                hint=f"rename it to {number}" if number not in model.version_dirs else "remove it",
            )
        )
    for other in model.other_dirs:
        if any(c.isdigit() for c in other) and other != "__pycache__":
            findings.append(
                model.finding(
                    NON_NUMERIC_VERSION,
                    f"folder {other!r} is not a version folder (only digits are); Triton ignores it",
                    file=str(model.path / other),
                    hint="version folders are named 1, 2, 3, ...",
                )
            )
    return findings


def _missing_config(model: ModelContext, in_versions: list[int], repo: RepositoryContext) -> list[Finding]:
    name = model.name
    config_path = model.path / CONFIG_FILE
    if os.path.lexists(config_path) and not config_path.is_symlink():
        # a folder aborts the server, a FIFO hangs it; validate never reads it
        kind = "a folder" if config_path.is_dir() else "not a regular file"
        return [
            model.finding(
                CONFIG_NOT_FILE,
                f"{CONFIG_FILE} is {kind}",
                file=str(config_path),
                hint=f"make {name}/{CONFIG_FILE} a text file with the model configuration",
            )
        ]
    if in_versions:
        version = in_versions[0]
        return [
            model.finding(
                CONFIG_IN_VERSION,
                f"{CONFIG_FILE} is inside version folder {version}/; Triton looks for {name}/{CONFIG_FILE}",
                file=str(model.versions[version] / CONFIG_FILE),
                hint=f"move it up: mv {name}/{version}/{CONFIG_FILE} {name}/",
            )
        ]
    found = {p.name: p for v in sorted(model.versions) for p in _safe_children(model.versions[v])}
    auto = [f for f in _AUTOCOMPLETE_FILES if f in found]
    if auto:
        filename = auto[0]
        caveat = ""
        if filename == "model.pt":
            caveat = "; the PyTorch backend cannot fill in inputs and outputs, so the load will likely fail"
        elif filename == "model.py" and b"auto_complete_config" not in _read(found[filename]):
            caveat = "; model.py has no auto_complete_config, so the model declares no inputs or outputs"
        return [
            model.finding(
                AUTO_COMPLETE_CONFIG,
                f"no {CONFIG_FILE}: Triton guesses the {_AUTOCOMPLETE_FILES[filename]} backend from "
                f"{filename} and auto-completes the config (unless --disable-auto-complete-config){caveat}",
                hint=f"write {name}/{CONFIG_FILE} (tritonkit add / export) to pin names, types and batching",
            )
        ]
    if name.startswith("."):  # .ipynb_checkpoints, .git, .cache: the server tries to load these too
        return [
            model.finding(
                MISSING_CONFIG,
                f"hidden folder {name!r} is a model folder to Triton (it loads every sub-folder of the "
                f"repository) and has no {CONFIG_FILE}, so the load fails",
                hint=f"move {name}/ out of the model repository",
            )
        ]
    return [
        model.finding(
            MISSING_CONFIG,
            f"model folder {name!r} has no {CONFIG_FILE}",
            hint=f"add one with `tritonkit add {name} ...`, or remove the folder from the repository",
        )
    ]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _safe_children(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError:
        return []
