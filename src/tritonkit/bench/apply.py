"""`bench --sweep --apply`: the chosen variant written to config.pbtxt and tritonkit.yaml."""

from __future__ import annotations

from pathlib import Path

from tritonkit.bench.result import Variant
from tritonkit.repository.lock import locked


@locked("repository")  # reads tritonkit.yaml, changes one model, writes it back
def apply_variant(repository: Path, model: str, variant: Variant, queue_delay_us: int = 100) -> list[Path]:
    """Write `variant` to the model's config.pbtxt, and to tritonkit.yaml when it records the model.

    Only the swept fields change: the instance count (one group, as measured, keeping the first
    group's kind, KIND_AUTO when there was none, its GPUs and other fields) and whether dynamic
    batching is on; with --tune also max_batch_size, the max queue delay and the preferred batch sizes.
    Every other field of the config is kept.
    """
    import dataclasses

    from tritonkit.model.spec import DynamicBatchingSpec, InstanceGroupSpec, trusted
    from tritonkit.repository.layout import write_text_atomic
    from tritonkit.repository.project import load_project, write_project
    from tritonkit.repository.render import render_config
    from tritonkit.repository.scan import CONFIG_FILE

    config_path = repository / model / CONFIG_FILE
    project = load_project(repository)
    spec = project.model(model)
    if spec is not None:
        if variant.instances is not None:
            with trusted():
                first = (
                    spec.instance_groups[0] if spec.instance_groups else InstanceGroupSpec(kind="KIND_AUTO")
                )
                spec.instance_groups = [dataclasses.replace(first, count=variant.instances)]
        if variant.dynamic_batching is True and spec.dynamic_batching is None:
            spec.dynamic_batching = DynamicBatchingSpec(max_queue_delay_microseconds=queue_delay_us)
            spec.extra.pop("sequence_batching", None)  # one scheduling choice (a oneof)
        elif variant.dynamic_batching is False:
            spec.dynamic_batching = None
        if variant.max_batch_size is not None:
            spec.max_batch_size = variant.max_batch_size
        if spec.dynamic_batching is not None and variant.queue_delay_us is not None:
            spec.dynamic_batching.max_queue_delay_microseconds = variant.queue_delay_us
        if spec.dynamic_batching is not None and variant.preferred_batch_sizes is not None:
            spec.dynamic_batching.preferred_batch_sizes = list(variant.preferred_batch_sizes)
        project.upsert(spec)
        write_text_atomic(config_path, render_config(spec))
        write_project(project)
        return [config_path, project.spec_path]
    # Not in tritonkit.yaml: edit the parsed config with the official schema.
    from google.protobuf import text_format

    from tritonkit.model.schema import parse_config, pb2

    config = parse_config(config_path.read_text(encoding="utf-8"))
    if variant.instances is not None:
        first = pb2().ModelInstanceGroup()  # KIND_AUTO when the config had no group
        if config.instance_group:
            first.CopyFrom(config.instance_group[0])
        del config.instance_group[:]
        first.count = variant.instances
        config.instance_group.add().CopyFrom(first)
    if variant.dynamic_batching is True and not config.HasField("dynamic_batching"):
        config.ClearField("sequence_batching")  # one scheduling choice (a oneof)
        config.dynamic_batching.max_queue_delay_microseconds = queue_delay_us
    elif variant.dynamic_batching is False:
        config.ClearField("dynamic_batching")
    if variant.max_batch_size is not None:
        config.max_batch_size = variant.max_batch_size
    if config.HasField("dynamic_batching") and variant.queue_delay_us is not None:
        config.dynamic_batching.max_queue_delay_microseconds = variant.queue_delay_us
    if config.HasField("dynamic_batching") and variant.preferred_batch_sizes is not None:
        del config.dynamic_batching.preferred_batch_size[:]
        config.dynamic_batching.preferred_batch_size.extend(variant.preferred_batch_sizes)
    text = "# Written by `tritonkit bench --sweep/--tune --apply`.\n" + text_format.MessageToString(config)
    write_text_atomic(config_path, text)
    return [config_path]
