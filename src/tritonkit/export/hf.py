"""Hugging Face checkpoints: a `save_pretrained` folder -> a module, its example inputs and dynamic dims.

The class comes from the config's `architectures` (e.g. BertForSequenceClassification) or `--task`.
Example inputs follow the model's forward(): token ids below `vocab_size`, an all-ones attention mask,
zero token types where the model has them, pixel values of the config's image size and channels.
Batch and sequence length are dynamic; the cache is off (`use_cache=False`) and outputs come from
`return_dict=True` results, named by their keys (`logits`, `last_hidden_state`, ...).

transformers is an optional extra (`tritonkit[hf]`) imported only here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tritonkit.errors import ExportError, UsageError

TASKS = {
    "base": "AutoModel",
    "feature-extraction": "AutoModel",
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "masked-lm": "AutoModelForMaskedLM",
    "causal-lm": "AutoModelForCausalLM",
    "image-classification": "AutoModelForImageClassification",
}
WEIGHT_FILES = (
    "model.safetensors",
    "pytorch_model.bin",
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
)
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DEFAULT_SEQ_LEN = 8
DEFAULT_BATCH = 2


@dataclass
class Checkpoint:
    """A loaded checkpoint: the module (called by keyword), example inputs by name, the dynamic axes."""

    model: Any
    examples: dict[str, Any]
    dynamic_dims: dict[str, list[int]]  # config axes (batch dim excluded) per input
    architecture: str
    length_cap: int | None = None
    notes: list[str] = field(default_factory=list)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_checkpoint(target: str) -> bool:
    return Path(target).is_dir() and (Path(target) / "config.json").is_file()


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExportError(f"cannot read {folder / 'config.json'}: {exc}") from exc
    if not isinstance(data, dict):
        raise ExportError(f"{folder / 'config.json'} is not a JSON object")
    return data


def _model_class(
    transformers: Any, config: dict[str, Any], task: str | None, folder: Path
) -> tuple[Any, str]:
    if task is not None:
        if task not in TASKS:
            raise UsageError(f"unknown --task {task!r}", hint=f"use one of {', '.join(TASKS)}")
        return getattr(transformers, TASKS[task]), TASKS[task]
    architectures = config.get("architectures") or []
    if not architectures:
        return transformers.AutoModel, "AutoModel"
    name = str(architectures[0])
    cls = getattr(transformers, name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise ExportError(
            f"{folder / 'config.json'}: unknown architecture {name!r} (transformers "
            f"{transformers.__version__} has no such model class)",
            hint=f"give --task ({', '.join(TASKS)}) or upgrade transformers",
        )
    return cls, name


def load_checkpoint(
    target: str, *, task: str | None = None, seq_len: int | None = None, batch_size: int | None = None
) -> Checkpoint:
    """Load a `save_pretrained` folder (nothing is downloaded) and make its example inputs."""
    folder = Path(target)
    config_data = _read_config(folder)
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        raise ExportError(
            f"{folder} has a config.json but no weights ({' or '.join(WEIGHT_FILES[:2])})",
            hint="save the model with save_pretrained(DIR) (it writes both), or copy the weight files in",
        )
    try:
        import transformers
    except ImportError as exc:
        raise ExportError(
            "exporting a Hugging Face checkpoint needs transformers",
            hint="pip install 'tritonkit[hf]' torch==2.13.0",
        ) from exc
    cls, architecture = _model_class(transformers, config_data, task, folder)
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # not ours to print
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = cls.from_pretrained(str(folder), local_files_only=True, dtype="auto")
    except Exception as exc:
        raise ExportError(
            f"cannot load {folder} as {architecture}: {type(exc).__name__}: {_first_line(exc)}",
            hint="check the folder was written by save_pretrained, or pick the class with --task",
        ) from exc
    model.eval()
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False  # no past key values: one call, one output set
    return Checkpoint(
        model=model,
        examples=example_inputs(model, seq_len or DEFAULT_SEQ_LEN, batch_size or DEFAULT_BATCH),
        dynamic_dims={},
        architecture=architecture,
        length_cap=getattr(model.config, "max_position_embeddings", None),
    )


def example_inputs(model: Any, seq_len: int, batch: int) -> dict[str, Any]:
    """Inputs by forward() name: text models get ids/mask(/token types), vision models pixel values."""
    import inspect

    import torch

    if seq_len < 1 or batch < 1:
        raise UsageError("--seq-len and --batch-size must be at least 1")
    config = model.config
    params = inspect.signature(model.forward).parameters
    gen = torch.Generator().manual_seed(0)
    out: dict[str, Any] = {}
    if "pixel_values" in params and "input_ids" not in params:
        size = config.image_size
        size = tuple(size) if isinstance(size, list | tuple) else (size, size)
        dtype = next(model.parameters()).dtype
        out["pixel_values"] = torch.randn(batch, config.num_channels, *size, generator=gen).to(dtype)
        return out
    if "input_ids" not in params:
        raise ExportError(
            f"{type(model).__name__}.forward takes neither input_ids nor pixel_values",
            hint="export it from Python: tritonkit.export_model(model, {name: tensor, ...}, ...)",
        )
    cap = getattr(config, "max_position_embeddings", None)
    if cap is not None and seq_len > cap:
        raise UsageError(f"--seq-len {seq_len} is above the model's max_position_embeddings {cap}")
    out["input_ids"] = torch.randint(0, config.vocab_size, (batch, seq_len), generator=gen)
    if "attention_mask" in params:
        out["attention_mask"] = torch.ones(batch, seq_len, dtype=torch.int64)
    if "token_type_ids" in params and getattr(config, "type_vocab_size", None):
        out["token_type_ids"] = torch.zeros(batch, seq_len, dtype=torch.int64)
    return out


def dynamic_dims(examples: dict[str, Any], max_batch_size: int) -> dict[str, list[int]]:
    """Config axes to mark -1: the sequence of text inputs; with no batching, the batch dim as well."""
    offset = 0 if max_batch_size == 0 else 1
    axes: dict[str, list[int]] = {}
    for name in examples:
        tensor_axes = [0] if max_batch_size == 0 else []
        if name in TEXT_INPUTS:
            tensor_axes.append(1)
        if tensor_axes:
            axes[name] = [a - offset for a in tensor_axes if a - offset >= 0]
    return {n: a for n, a in axes.items() if a}


def export_checkpoint(
    folder: str | Path,
    *,
    repo: Path | str,
    name: str,
    task: str | None = None,
    seq_len: int | None = None,
    batch_size: int | None = None,
    max_batch_size: int | None = None,
    format: str = "torchscript",
    **options: Any,
) -> Any:
    """Export a `save_pretrained` folder: `export_model` with the checkpoint's module and examples.

    `max_batch_size` defaults to 8 (0 for `format="aoti"`, whose batch dim then stays a -1 config dim);
    other keyword options go to `export_model`. Returns its ExportResult.
    """
    from tritonkit.export.run import export_model

    if max_batch_size is None:
        max_batch_size = 0 if format.lower() in ("aoti", "pt2", "torch_aoti") else 8
    batch = batch_size or min(DEFAULT_BATCH, max_batch_size or DEFAULT_BATCH)
    checkpoint = load_checkpoint(str(folder), task=task, seq_len=seq_len, batch_size=batch)
    result = export_model(
        checkpoint.model,
        checkpoint.examples,
        repo=repo,
        name=name,
        format=format,
        max_batch_size=max_batch_size,
        dynamic_dims=dynamic_dims(checkpoint.examples, max_batch_size),
        length_cap=checkpoint.length_cap,
        **options,
    )
    result.notes.insert(0, f"loaded {folder} as {checkpoint.architecture} (transformers)")
    return result
