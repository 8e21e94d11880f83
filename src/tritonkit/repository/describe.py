"""What a client must send to a model and what it gets back, from the model's config.pbtxt.

Full shapes include the batch dimension (-1 first) when max_batch_size > 0; data types are given as
the wire names (FP32, BYTES) a request carries, not the config names (TYPE_FP32, TYPE_STRING).
"""

from __future__ import annotations

import difflib
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.errors import RepositoryError
from tritonkit.repository.scan import CONFIG_FILE, scan_model_folder, scan_repository

# Inline request data up to this many elements; beyond it the curl example reads a file.
_INLINE_ELEMENTS = 64


@dataclass
class TensorDescription:
    """One input or output as a client sees it."""

    name: str
    config_type: str  # TYPE_FP32
    wire_type: str  # FP32
    numpy_type: str  # float32 ("object" for BYTES)
    dims: list[int]  # as in the config (no batch dim)
    shape: list[int]  # full shape on the wire (-1 batch dim first when the model batches)
    optional: bool = False

    def example_shape(self, batch: int = 1) -> list[int]:
        """A concrete shape to send: the batch dim is `batch`, other variable dims are 1."""
        return [
            batch if i == 0 and d == -1 and self._batched else (1 if d == -1 else d)
            for i, d in enumerate(self.shape)
        ]

    @property
    def _batched(self) -> bool:
        return len(self.shape) == len(self.dims) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "datatype": self.wire_type,
            "config_type": self.config_type,
            "shape": list(self.shape),
            "dims": list(self.dims),
            "optional": self.optional,
        }


@dataclass
class ModelDescription:
    """A model's client-side contract plus ready-to-run examples (curl, tritonclient)."""

    name: str
    platform: str
    backend: str
    max_batch_size: int
    versions: list[int]
    inputs: list[TensorDescription] = field(default_factory=list)
    outputs: list[TensorDescription] = field(default_factory=list)
    url: str = "localhost:8000"
    curl: str = ""
    python: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "platform": self.platform,
            "backend": self.backend,
            "max_batch_size": self.max_batch_size,
            "versions": list(self.versions),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "endpoint": f"http://{self.url}/v2/models/{self.name}/infer",
            "curl": self.curl,
            "python": self.python,
        }

    def to_text(self) -> str:
        """A human-readable view: the contract table, then the curl line and the Python snippet."""
        kind = self.platform or self.backend or "?"
        batching = (
            f"batches up to {self.max_batch_size} (the first dim, -1, is the batch size)"
            if self.max_batch_size > 0
            else "does not batch (send shapes exactly as listed)"
        )
        versions = ", ".join(map(str, self.versions)) or "none"
        lines = [f"model {self.name} ({kind}), versions: {versions}; {batching}", ""]
        for title, tensors in (("inputs (send)", self.inputs), ("outputs (receive)", self.outputs)):
            lines.append(f"{title}:")
            width = max((len(t.name) for t in tensors), default=4)
            for t in tensors:
                extra = "  optional" if t.optional else ""
                lines.append(
                    f"  {t.name:<{width}}  {t.wire_type:<6} shape {t.shape}  (config {t.config_type}){extra}"
                )
            if not tensors:
                lines.append("  (none)")
        lines += [
            "",
            f"curl (HTTP/REST, POST /v2/models/{self.name}/infer):",
            self.curl,
            "",
            "python (tritonclient):",
        ]
        lines.append(self.python.rstrip("\n"))
        return "\n".join(lines)


def describe_model(repository: Path | str, model: str, *, url: str = "localhost:8000") -> ModelDescription:
    """Read `<repository>/<model>/config.pbtxt` and describe the model's inputs and outputs."""
    from tritonkit.model.dtypes import BY_CONFIG, config_type_name
    from tritonkit.model.schema import SchemaProblem, parse_config_safely

    root = Path(repository)
    if not root.is_dir():
        raise RepositoryError(f"repository {root} does not exist", hint="give it with --repo")
    folder = root / model
    config_path = folder / CONFIG_FILE
    if not folder.is_dir() or "/" in model or model in (".", ".."):
        names = scan_repository(root).names
        close = difflib.get_close_matches(model, names, n=1)
        raise RepositoryError(
            f"no model {model!r} in {root}",
            hint=f"did you mean {close[0]!r}?" if close else f"models: {', '.join(names) or '(none)'}",
        )
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RepositoryError(
            f"cannot read {config_path}: {getattr(exc, 'strerror', None) or exc}",
            hint=f"run `tritonkit validate {root}`",
        ) from exc
    config, problem = parse_config_safely(text)
    if problem is not None or config is None:
        problem = problem or SchemaProblem("cannot parse")
        where = f"{config_path}:{problem.line}" if problem.line else str(config_path)
        raise RepositoryError(
            f"{where}: {problem.message}", hint=problem.hint or f"run `tritonkit validate {root}`"
        )
    max_batch = int(config.max_batch_size)

    def tensor(t: Any) -> TensorDescription:
        config_type = config_type_name(t.data_type)
        known = BY_CONFIG.get(config_type)
        dims = [int(d) for d in t.dims]
        return TensorDescription(
            name=str(t.name),
            config_type=config_type,
            wire_type=known.wire if known else "INVALID",
            numpy_type=known.numpy if known else "float32",
            dims=dims,
            shape=([-1] if max_batch > 0 else []) + dims,
            optional=bool(getattr(t, "optional", False)),
        )

    versions = sorted(scan_model_folder(folder, model).versions)
    description = ModelDescription(
        name=str(config.name) or model,
        platform=str(config.platform),
        backend=str(config.backend),
        max_batch_size=max_batch,
        versions=versions,
        inputs=[tensor(t) for t in config.input],
        outputs=[tensor(t) for t in config.output],
        url=url,
    )
    description.curl = curl_example(description)
    description.python = python_example(description)
    return description


def _zero(wire_type: str) -> Any:
    if wire_type == "BYTES":
        return "text"
    if wire_type == "BOOL":
        return False
    if wire_type.startswith(("FP", "BF")):
        return 0.0
    return 0


def _count(shape: list[int]) -> int:
    return max(math.prod(shape), 0)


def request_body(description: ModelDescription) -> dict[str, Any]:
    """The JSON body of a KServe v2 infer request with placeholder data (batch 1, variable dims 1).

    The data is spelled out only up to `_INLINE_ELEMENTS` in all; a bigger body (dims [100000, 100000]
    would be 10^10 values) carries `fill` and the element count instead, for `curl_example`'s script.
    """
    inputs = []
    small = sum(_count(t.example_shape()) for t in description.inputs) <= _INLINE_ELEMENTS
    for t in description.inputs:
        shape = t.example_shape()
        item: dict[str, Any] = {"name": t.name, "shape": shape, "datatype": t.wire_type}
        if small:
            item["data"] = [_zero(t.wire_type)] * _count(shape)
        else:
            item["fill"] = _zero(t.wire_type)
        inputs.append(item)
    return {"inputs": inputs, "outputs": [{"name": t.name} for t in description.outputs]}


def curl_example(description: ModelDescription) -> str:
    """A ready curl line; for large tensors it writes the body to a file with python3 first."""
    endpoint = f"http://{description.url}/v2/models/{description.name}/infer"
    body = request_body(description)
    if all("data" in i for i in body["inputs"]):
        payload = json.dumps(body, ensure_ascii=False)
        return f"curl -s -X POST {endpoint} -H 'Content-Type: application/json' -d {shlex.quote(payload)}"
    # Too big to inline: describe the data with a generator expression instead of spelling it out.
    spec = [
        {"name": i["name"], "shape": i["shape"], "datatype": i["datatype"], "fill": i["fill"]}
        for i in body["inputs"]
    ]
    script = (
        "import json,math;s="
        + json.dumps(spec, ensure_ascii=False)
        + ';print(json.dumps({"inputs":[{"name":t["name"],"shape":t["shape"],"datatype":t["datatype"],'
        '"data":[t["fill"]]*math.prod(t["shape"])} for t in s]}))'
    )
    return (
        f"python3 -c {shlex.quote(script)} > request.json && \\\n"
        f"  curl -s -X POST {endpoint} -H 'Content-Type: application/json' -d @request.json"
    )


def python_example(description: ModelDescription) -> str:
    """A tritonclient (HTTP) snippet that sends placeholder inputs and prints each output's shape."""
    lines = [
        "import numpy as np",
        "import tritonclient.http as httpclient",
        "",
        f"client = httpclient.InferenceServerClient(url={description.url!r})",
        "inputs = []",
    ]
    for t in description.inputs:
        shape = t.example_shape()
        if t.wire_type == "BYTES":
            data = f"np.full({shape!r}, b'text', dtype=object)"
        elif t.wire_type == "BF16":
            data = f"np.zeros({shape!r}, dtype=np.float32)  # BF16 travels as float32 in numpy"
        else:
            data = f"np.zeros({shape!r}, dtype=np.{t.numpy_type})"
        lines += [
            f"data = {data}",
            f"tensor = httpclient.InferInput({t.name!r}, list(data.shape), {t.wire_type!r})",
            "tensor.set_data_from_numpy(data)",
            "inputs.append(tensor)",
        ]
    outputs = ", ".join(f"httpclient.InferRequestedOutput({t.name!r})" for t in description.outputs)
    lines += [
        f"outputs = [{outputs}]",
        f"result = client.infer({description.name!r}, inputs, outputs=outputs)",
    ]
    for t in description.outputs:
        lines.append(f"print({t.name!r}, result.as_numpy({t.name!r}).shape)  # expected {t.shape}")
    return "\n".join(lines) + "\n"
