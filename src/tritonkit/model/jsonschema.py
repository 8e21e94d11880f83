"""A JSON Schema of tritonkit.yaml, generated from the official ModelConfig descriptor.

`tritonkit schema` prints it; `init` writes it beside tritonkit.yaml, whose first line
(`# yaml-language-server: $schema=...`) lets editors complete and check the file.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from tritonkit.model.messages import _INT_RANGES, is_map, is_repeated

_PARAMETER = "inference.ModelParameter"


def _scalar(field: FieldDescriptor) -> dict[str, Any]:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return {"enum": [v.name for v in field.enum_type.values]}
    if field.type == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if field.type in _INT_RANGES:
        low, high = _INT_RANGES[field.type]
        return {"type": "integer", "minimum": low, "maximum": high}
    if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return {"type": "number"}
    return {"type": "string"}


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def message(self, descriptor: Descriptor) -> dict[str, Any]:
        name = descriptor.full_name
        ref = {"$ref": f"#/$defs/{name}"}
        if name in self.defs:
            return ref
        self.defs[name] = {}  # placeholder: recursive types stop here
        properties = {f.name: self.field(f) for f in descriptor.fields}
        self.defs[name] = {"type": "object", "properties": properties, "additionalProperties": False}
        if name == _PARAMETER:  # `{key: "text"}` is short for `{key: {string_value: "text"}}`
            self.defs[name] = {"anyOf": [{"type": "string"}, self.defs[name]]}
        return ref

    def value(self, field: FieldDescriptor) -> dict[str, Any]:
        return self.message(field.message_type) if field.message_type is not None else _scalar(field)

    def field(self, field: FieldDescriptor) -> dict[str, Any]:
        if is_map(field):
            return {
                "type": "object",
                "additionalProperties": self.value(field.message_type.fields_by_name["value"]),
            }
        if is_repeated(field):
            return {"type": "array", "items": self.value(field)}
        return self.value(field)


def spec_file_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of tritonkit.yaml."""
    from tritonkit.model.schema import pb2

    builder = _Builder()
    builder.message(pb2().ModelConfig.DESCRIPTOR)
    config = builder.defs["inference.ModelConfig"]
    entry = {
        "type": "object",
        "description": "One model: ModelConfig fields under their protobuf names, plus `tritonkit:`.",
        "required": ["name"],
        "properties": {
            **config["properties"],
            "tritonkit": {
                "type": "object",
                "description": "tritonkit's own keys (not ModelConfig fields).",
                "properties": {
                    "version": {"type": "integer", "minimum": 1, "description": "version folder to create"},
                    "python_variant": {"enum": ["plain", "bls"]},
                    "bls_target": {"type": "string", "description": "the model a BLS model.py calls"},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "tritonkit.yaml",
        "type": "object",
        "properties": {
            "repository": {"type": "string", "description": "the model repository, relative to this file"},
            "models": {"type": "array", "items": entry},
            "target": {
                "type": "object",
                "description": "what `tritonkit validate` checks against: the Triton release, the GPU count",
                "properties": {
                    "triton": {"type": "string", "description": "NGC tag (24.10) or server version (2.51)"},
                    "gpus": {"type": "integer", "minimum": 0, "description": "GPUs of the target machine"},
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
        "$defs": builder.defs,
    }
