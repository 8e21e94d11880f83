"""The official model-config schema (tritonclient's `model_config_pb2`) and config.pbtxt parsing.

`model_config_pb2.py` is loaded from the installed tritonclient without importing
`tritonclient.grpc` (which pulls in grpcio): validate stays light and needs no gRPC.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tritonkit.errors import MissingDependencyError

_PB2 = "tritonclient.grpc.model_config_pb2"
# The types users reach for most, preferred when several enum names are equally close.
_COMMON = ("TYPE_FP32", "TYPE_INT32", "TYPE_INT64", "TYPE_STRING", "KIND_GPU", "KIND_CPU")


@functools.cache
def pb2() -> ModuleType:
    """The `model_config_pb2` module (registered under its canonical name, so classes stay shared)."""
    if _PB2 in sys.modules:
        return sys.modules[_PB2]
    spec = importlib.util.find_spec("tritonclient")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "grpc" / "model_config_pb2.py"
        if path.is_file():
            module_spec = importlib.util.spec_from_file_location(_PB2, path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[_PB2] = module
            module_spec.loader.exec_module(module)
            return module
    raise MissingDependencyError(
        "tritonclient (its model_config_pb2 is the config schema)",
        "client",
        needed_for="reading config.pbtxt",
    )


def new_config() -> Any:
    """An empty `inference.ModelConfig` message."""
    return pb2().ModelConfig()


@dataclass
class SchemaProblem:
    """Why a config.pbtxt did not parse: message, 1-based line and column, and a suggestion."""

    message: str
    line: int | None = None
    column: int | None = None
    hint: str | None = None


def parse_config(text: str) -> Any:
    """Parse config.pbtxt text into a ModelConfig; raises google.protobuf.text_format.ParseError."""
    from google.protobuf import text_format

    return text_format.Parse(text, pb2().ModelConfig())


def parse_config_safely(text: str) -> tuple[Any | None, SchemaProblem | None]:
    """(config, None) when `text` parses, else (None, the problem with position and hint)."""
    from google.protobuf import text_format

    try:
        return text_format.Parse(text, pb2().ModelConfig()), None  # parse_config inlined (validate's loop)
    except text_format.ParseError as exc:
        return None, explain_parse_error(exc, text)
    except (ValueError, TypeError, RecursionError, UnicodeError) as exc:  # e.g. out-of-range ints in upb
        return None, SchemaProblem(message=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


_POSITION = re.compile(r"^(\d+):(\d+)\s*:\s*")
_NO_FIELD = re.compile(r'Message type "([\w.]+)" has no field named "?([\w.\[\]]+)"?')
_NO_ENUM = re.compile(r'Enum type "([\w.]+)" has no value named ([\w]+)')


def explain_parse_error(exc: Exception, text: str) -> SchemaProblem:
    """Turn a text_format.ParseError into a SchemaProblem with line, column and a did-you-mean."""
    raw = str(exc)
    line = column = None
    match = _POSITION.match(raw)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        raw = raw[match.end() :]
    if line is None:
        getter = getattr(exc, "GetLine", None)
        line = getter() if callable(getter) else None
        column_getter = getattr(exc, "GetColumn", None)
        column = column_getter() if callable(column_getter) else None
    hint = None
    field_match = _NO_FIELD.search(raw)
    enum_match = _NO_ENUM.search(raw)
    if field_match:
        hint = _suggest(field_match.group(2), _field_names(field_match.group(1)))
    elif enum_match:
        hint = _suggest(enum_match.group(2), _enum_names(enum_match.group(1)))
    elif "Expected" in raw and "{" in raw:
        hint = "check the braces and brackets around this line"
    message = raw.strip().rstrip(".")
    return SchemaProblem(message=message, line=line, column=column, hint=hint)


def _suggest(word: str, candidates: list[str]) -> str | None:
    prefixed = [c for c in candidates if c.startswith(word) and c != word]
    close = difflib.get_close_matches(word, candidates, n=4, cutoff=0.6)
    options = list(dict.fromkeys(prefixed + close))
    if not options:
        return None
    options.sort(key=lambda c: (c not in _COMMON, c not in close[:1], len(c)))
    best, rest = options[0], options[1:4]
    return f"did you mean {best}?" + (f" (or {', '.join(rest)})" if rest else "")


def _descriptor(full_name: str) -> Any:
    from google.protobuf import descriptor_pool

    pb2()
    return descriptor_pool.Default().FindMessageTypeByName(full_name)


def _field_names(message_full_name: str) -> list[str]:
    try:
        return [f.name for f in _descriptor(message_full_name).fields]
    except KeyError:
        return []


def _enum_names(enum_full_name: str) -> list[str]:
    from google.protobuf import descriptor_pool

    pb2()
    try:
        return [v.name for v in descriptor_pool.Default().FindEnumTypeByName(enum_full_name).values]
    except KeyError:
        return []


def locate_fields(text: str) -> dict[str, int]:
    """Map field paths in a config text to their 1-based line: `input[1].dims` -> 12.

    Paths use repeated-field indexes as the parser assigns them; `input` alone maps to its first
    line; singular messages get `[0]` too (`dynamic_batching[0].preferred_batch_size`).
    Used only to point findings at lines, so it is forgiving: it never raises on odd text.
    """
    from google.protobuf import text_format

    positions: dict[str, int] = {}
    stack: list[str] = []  # path components of the open messages
    counters: list[dict[str, int]] = [{}]
    lists: list[str] = []  # field names of the open `[ ... ]` lists

    def open_message(name: str, line: int) -> None:
        index = counters[-1].get(name, 0)
        counters[-1][name] = index + 1
        positions.setdefault(".".join([*stack, name]), line)
        positions.setdefault(".".join([*stack, f"{name}[{index}]"]), line)
        stack.append(f"{name}[{index}]")
        counters.append({})

    try:
        tokenizer = text_format.Tokenizer(text.splitlines())
        while not tokenizer.AtEnd():
            token, line = tokenizer.token, tokenizer._line + 1
            tokenizer.NextToken()
            if token in ("{", "<"):
                if lists:
                    open_message(lists[-1], line)
            elif token in ("}", ">"):
                if stack:
                    stack.pop()
                    counters.pop()
            elif token == "]":
                if lists:
                    lists.pop()
            elif _IDENT.fullmatch(token):
                following = tokenizer.token
                if following == ":":
                    tokenizer.NextToken()
                    following = tokenizer.token
                    if following not in ("[", "{", "<"):
                        positions.setdefault(".".join([*stack, token]), line)
                        continue
                if following == "[":
                    tokenizer.NextToken()
                    positions.setdefault(".".join([*stack, token]), line)
                    lists.append(token)
                elif following in ("{", "<"):
                    tokenizer.NextToken()
                    open_message(token, line)
    except Exception:  # a broken file: whatever was located so far is still useful
        return positions
    return positions


_IDENT = re.compile(r"[A-Za-z_]\w*")


def line_of(positions: dict[str, int], *paths: str) -> int | None:
    """The line of the first path (most specific first) that was located."""
    for path in paths:
        if path in positions:
            return positions[path]
    return None
