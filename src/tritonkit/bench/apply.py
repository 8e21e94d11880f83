"""`bench --sweep --apply`: the chosen variant written to config.pbtxt and tritonkit.yaml."""

from __future__ import annotations

from pathlib import Path

from tritonkit.bench.result import Variant


def apply_variant(repository: Path, model: str, variant: Variant, queue_delay_us: int = 100) -> list[Path]:
    """Write `variant` to the model's config.pbtxt, and to tritonkit.yaml when it records the model."""
    from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec
    from tritonkit.repository.layout import write_text_atomic
    from tritonkit.repository.project import load_project
    from tritonkit.repository.render import render_config
    from tritonkit.repository.scan import CONFIG_FILE

    config_path = repository / model / CONFIG_FILE
    project = load_project(repository)
    spec = project.model(model)
    if spec is not None:
        if variant.instances is not None:
            first = spec.instance_groups[0] if spec.instance_groups else InstanceGroupSpec()
            spec.instance_groups = [InstanceGroupSpec(variant.instances, first.kind, list(first.gpus))]
        if variant.dynamic_batching is True and spec.dynamic_batching is None:
            spec.dynamic_batching = DynamicBatchingSpec(max_queue_delay_microseconds=queue_delay_us)
        elif variant.dynamic_batching is False:
            spec.dynamic_batching = None
        project.upsert(spec)
        write_text_atomic(config_path, render_config(spec))
        write_text_atomic(project.spec_path, project.to_yaml())
        return [config_path, project.spec_path]
    # Not in tritonkit.yaml: edit the parsed config with the official schema.
    from google.protobuf import text_format

    from tritonkit.model.schema import parse_config

    config = parse_config(config_path.read_text(encoding="utf-8"))
    if variant.instances is not None:
        kind = config.instance_group[0].kind if config.instance_group else None
        gpus = list(config.instance_group[0].gpus) if config.instance_group else []
        del config.instance_group[:]
        group = config.instance_group.add()
        group.count = variant.instances
        group.kind = kind if kind is not None else config.instance_group[0].KIND_CPU
        group.gpus.extend(gpus)
    if variant.dynamic_batching is True and not config.HasField("dynamic_batching"):
        config.dynamic_batching.max_queue_delay_microseconds = queue_delay_us
    elif variant.dynamic_batching is False:
        config.ClearField("dynamic_batching")
    text = "# Written by `tritonkit bench --sweep --apply`.\n" + text_format.MessageToString(config)
    write_text_atomic(config_path, text)
    return [config_path]
