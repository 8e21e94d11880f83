"""Triton data types under every name they go by: config (TYPE_FP32), wire (FP32), numpy, torch."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tritonkit.errors import UsageError


@dataclass(frozen=True)
class DataType:
    """One Triton data type. `config` is the enum name in config.pbtxt, `wire` the HTTP/gRPC name."""

    config: str
    wire: str
    numpy: str  # numpy dtype name ("object" for BYTES; BF16 travels as float32 in numpy)
    torch: str | None  # torch dtype attribute name, None where torch has no such type


_TYPES = [
    DataType("TYPE_BOOL", "BOOL", "bool", "bool"),
    DataType("TYPE_UINT8", "UINT8", "uint8", "uint8"),
    DataType("TYPE_UINT16", "UINT16", "uint16", "uint16"),
    DataType("TYPE_UINT32", "UINT32", "uint32", "uint32"),
    DataType("TYPE_UINT64", "UINT64", "uint64", "uint64"),
    DataType("TYPE_INT8", "INT8", "int8", "int8"),
    DataType("TYPE_INT16", "INT16", "int16", "int16"),
    DataType("TYPE_INT32", "INT32", "int32", "int32"),
    DataType("TYPE_INT64", "INT64", "int64", "int64"),
    DataType("TYPE_FP16", "FP16", "float16", "float16"),
    DataType("TYPE_FP32", "FP32", "float32", "float32"),
    DataType("TYPE_FP64", "FP64", "float64", "float64"),
    DataType("TYPE_STRING", "BYTES", "object", None),
    DataType("TYPE_BF16", "BF16", "float32", "bfloat16"),
]

BY_CONFIG: dict[str, DataType] = {t.config: t for t in _TYPES}
BY_WIRE: dict[str, DataType] = {t.wire: t for t in _TYPES}


@functools.cache
def config_type_names() -> dict[int, str]:
    """DataType enum number -> config name (TYPE_FP32...): the one lookup of the official schema's enum."""
    from tritonkit.model.schema import pb2

    return {int(v.number): str(v.name) for v in pb2().DataType.DESCRIPTOR.values}


def config_type_name(number: int) -> str:
    """The config name of a DataType enum number; the number itself when the schema has no such value."""
    return config_type_names().get(int(number), str(number))


_ALIASES: dict[str, str] = {
    "bool": "TYPE_BOOL",
    "boolean": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "u8": "TYPE_UINT8",
    "uint16": "TYPE_UINT16",
    "u16": "TYPE_UINT16",
    "uint32": "TYPE_UINT32",
    "u32": "TYPE_UINT32",
    "uint64": "TYPE_UINT64",
    "u64": "TYPE_UINT64",
    "int8": "TYPE_INT8",
    "i8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "i16": "TYPE_INT16",
    "short": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "i32": "TYPE_INT32",
    "int": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "i64": "TYPE_INT64",
    "long": "TYPE_INT64",
    "fp16": "TYPE_FP16",
    "float16": "TYPE_FP16",
    "half": "TYPE_FP16",
    "f16": "TYPE_FP16",
    "fp32": "TYPE_FP32",
    "float32": "TYPE_FP32",
    "float": "TYPE_FP32",
    "f32": "TYPE_FP32",
    "fp64": "TYPE_FP64",
    "float64": "TYPE_FP64",
    "double": "TYPE_FP64",
    "f64": "TYPE_FP64",
    "bf16": "TYPE_BF16",
    "bfloat16": "TYPE_BF16",
    "bytes": "TYPE_STRING",
    "string": "TYPE_STRING",
    "str": "TYPE_STRING",
    "object": "TYPE_STRING",
}


def parse_dtype(text: str) -> DataType:
    """Accept fp32, float32, FP32, TYPE_FP32, bytes/string, bool... and return the Triton type."""
    key = text.strip()
    if key.upper() in BY_CONFIG:
        return BY_CONFIG[key.upper()]
    if key.upper() in BY_WIRE:
        return BY_WIRE[key.upper()]
    if key.upper().startswith("TYPE_") and key.upper()[5:].lower() in _ALIASES:
        return BY_CONFIG[_ALIASES[key.upper()[5:].lower()]]
    alias = key.lower().removeprefix("torch.").removeprefix("np.").removeprefix("numpy.")
    if alias in _ALIASES:
        return BY_CONFIG[_ALIASES[alias]]
    known = ", ".join(sorted({t.wire.lower() for t in _TYPES}))
    raise UsageError(f"unknown data type {text!r}", hint=f"use one of {known} (or TYPE_FP32, float32, ...)")


def from_numpy(dtype_name: str) -> DataType:
    """The Triton type for a numpy dtype name (float32, int64, bool, object, bytes...)."""
    name = dtype_name.lower()
    if name in ("object", "bytes", "str") or name.startswith(("|s", "<u", "s", "bytes", "str")):
        return BY_CONFIG["TYPE_STRING"]
    for t in _TYPES:
        if t.numpy == name and t.config != "TYPE_BF16":
            return t
    raise UsageError(f"numpy type {dtype_name!r} has no Triton data type")


def from_torch(dtype_name: str) -> DataType:
    """The Triton type for a torch dtype ("torch.float32" or "float32"); complex types have none."""
    name = dtype_name.removeprefix("torch.")
    aliases = {
        "float": "float32",
        "double": "float64",
        "half": "float16",
        "long": "int64",
        "int": "int32",
        "short": "int16",
    }
    name = aliases.get(name, name)
    for t in _TYPES:
        if t.torch == name:
            return t
    raise UsageError(
        f"torch type {dtype_name!r} has no Triton data type",
        hint="Triton has no complex or quantized types: return real tensors (e.g. torch.view_as_real)",
    )
