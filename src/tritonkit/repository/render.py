"""Rendering specs to files through the Jinja templates in `templates/` (shipped in the wheel)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

    from tritonkit.model.spec import ModelSpec


def templates_dir() -> Path:
    """The templates folder: inside the installed package, else the source tree's top-level one."""
    packaged = Path(__file__).parents[1] / "templates"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parents[3] / "templates"
    if source.is_dir():
        return source
    raise FileNotFoundError(f"tritonkit templates not found in {packaged} or {source}; reinstall tritonkit")


def pbstr(value: object) -> str:
    """A protobuf text-format string literal: quoted, with every special byte escaped."""
    from google.protobuf import text_encoding

    escaped: str = text_encoding.CEscape(str(value).encode("utf-8"), as_utf8=True)
    return '"' + escaped + '"'


@functools.cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pbstr"] = pbstr
    env.filters["pyrepr"] = repr
    return env


def render_template(name: str, **context: Any) -> str:
    """Render one template of `templates/` with the given context."""
    text = environment().get_template(name).render(**context)
    return text if text.endswith("\n") else text + "\n"


def render_config(spec: ModelSpec) -> str:
    """The config.pbtxt text for a model spec."""
    return render_template("config.pbtxt.j2", spec=spec)


def render_python_model(spec: ModelSpec, target: ModelSpec | None = None) -> str:
    """model.py for a Python-backend spec: the plain variant, or BLS calling `spec.bls_target`."""
    if spec.python_variant == "bls":
        target_in = [t.name for t in target.inputs] if target else [t.name for t in spec.inputs]
        target_out = [t.name for t in target.outputs] if target else [t.name for t in spec.outputs]
        # Pair by position; where the target has fewer tensors, keep the name as is.
        target_inputs = {
            t.name: (target_in[i] if i < len(target_in) else t.name) for i, t in enumerate(spec.inputs)
        }
        target_outputs = {
            (target_out[i] if i < len(target_out) else t.name): t.name for i, t in enumerate(spec.outputs)
        }
        return render_template(
            "python/model_bls.py.j2", spec=spec, target_inputs=target_inputs, target_outputs=target_outputs
        )
    return render_template("python/model.py.j2", spec=spec)
