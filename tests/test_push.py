"""Remote URIs (parsed as Triton parses them) and the push plan (a pure value), without any server."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from tritonkit.deploy.push import LocalFile, pin_config, plan_push, served_versions
from tritonkit.errors import RepositoryError, UsageError
from tritonkit.model.schema import parse_config
from tritonkit.repository.remote import RemoteURI, is_remote, parse_remote_uri, require_s3
from tritonkit.repository.s3 import RemoteObject


@pytest.mark.parametrize(
    ("text", "bucket", "prefix", "endpoint", "secure"),
    [
        ("s3://bucket/a/b", "bucket", "a/b", None, False),
        ("s3://bucket", "bucket", "", None, False),
        ("s3://bucket//a///b/", "bucket", "a/b", None, False),
        ("s3://127.0.0.1:9000/models/repo", "models", "repo", "127.0.0.1:9000", False),
        ("s3://http://127.0.0.1:9000/models/repo", "models", "repo", "127.0.0.1:9000", False),
        ("s3://https://minio.example:443/models", "models", "", "minio.example:443", True),
    ],
)
def test_s3_uris_parse_like_triton(
    text: str, bucket: str, prefix: str, endpoint: str | None, secure: bool
) -> None:
    uri = parse_remote_uri(text)
    assert (uri.bucket, uri.prefix, uri.endpoint, uri.secure) == (bucket, prefix, endpoint, secure)
    assert parse_remote_uri(str(uri)) == uri  # the shown form reads back the same


def test_endpoint_uri_names_triton_cannot_read_are_refused() -> None:
    # Triton's regex wants [0-9a-z.-] buckets with an endpoint; otherwise it takes host:port as the bucket.
    with pytest.raises(UsageError, match="Triton cannot read"):
        parse_remote_uri("s3://127.0.0.1:9000/My_Bucket/repo")


def test_gs_and_as_parse_and_are_refused_with_a_hint() -> None:
    gs = parse_remote_uri("gs://bucket/models")
    assert (gs.scheme, gs.bucket, gs.prefix) == ("gs", "bucket", "models")
    az = parse_remote_uri("as://account/container/models")
    assert (az.bucket, az.prefix) == ("account/container", "models")
    with pytest.raises(UsageError) as caught:
        require_s3(gs)
    assert "google-cloud-storage" in (caught.value.hint or "")
    with pytest.raises(UsageError, match="names no container"):
        parse_remote_uri("as://account")
    assert is_remote("s3://b") and not is_remote("model_repository") and not is_remote(None)


CONFIG = 'name: "m"\nbackend: "python"\ninput [{ name: "X" data_type: TYPE_FP32 dims: [4] }]\n'


def test_served_versions_follow_the_version_policy() -> None:
    assert served_versions(CONFIG, [1, 2, 3]) == [3]
    assert served_versions(CONFIG + "version_policy: { latest: { num_versions: 2 } }", [1, 2, 3]) == [2, 3]
    assert served_versions(CONFIG + "version_policy: { all: {} }", [1, 3]) == [1, 3]
    assert served_versions(CONFIG + "version_policy: { specific: { versions: [1, 5] } }", [1, 2]) == [1]
    assert served_versions(None, [1]) == []


def test_pin_keeps_the_config_and_pins_versions() -> None:
    pinned = parse_config(
        pin_config(CONFIG + "version_policy: { latest: { num_versions: 1 } }", [1]).decode()
    )
    assert list(pinned.version_policy.specific.versions) == [1]
    assert pinned.input[0].name == "X" and pinned.backend == "python"


def _files(tmp_path: Path, files: dict[str, str]) -> list[LocalFile]:
    import hashlib

    out = []
    for relative, text in sorted(files.items()):
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        out.append(LocalFile(relative, path, len(text), hashlib.sha256(text.encode()).hexdigest()))
    return out


def _remote(files: list[LocalFile], when: datetime) -> dict[str, RemoteObject]:
    return {
        f.relative: RemoteObject(f.relative, f.size, "etag-x", when, {"tritonkit-sha256": f.sha256})
        for f in files
    }


URI = RemoteURI("s3", "models", "repo", "127.0.0.1:9000")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_new_model_with_one_version_is_published_config_first_model_file_last(tmp_path: Path) -> None:
    # Every state before the last upload lacks the only version's model file: it fails to load, the
    # server reverts the model's timestamp and tries again, so no mtime comparison (and no wait) is needed.
    local = _files(
        tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x", "m/1/weights.bin": "w", "m/golden.npz": "g"}
    )
    plan = plan_push(local, {}, {}, repository="r", uri=URI)
    assert [(s.action, s.relative) for s in plan.steps] == [
        ("config", "m/config.pbtxt"),
        ("upload", "m/golden.npz"),
        ("upload", "m/1/weights.bin"),
        ("upload", "m/1/model.py"),
    ]
    assert plan.floors == {}


def test_new_model_with_two_versions_uploads_versions_then_the_config(tmp_path: Path) -> None:
    # version 1 complete would load before version 2 is up: the config must come last (and be newer)
    local = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x", "m/2/model.py": "y"})
    plan = plan_push(local, {}, {}, repository="r", uri=URI)
    assert [(s.action, s.relative) for s in plan.steps] == [
        ("upload", "m/1/model.py"),
        ("upload", "m/2/model.py"),
        ("config", "m/config.pbtxt"),
    ]


def test_the_configs_default_model_filename_is_the_model_file_uploaded_last(tmp_path: Path) -> None:
    config = CONFIG + 'default_model_filename: "a_runtime.py"\n'
    local = _files(tmp_path, {"m/config.pbtxt": config, "m/1/a_runtime.py": "x", "m/1/z.bin": "w"})
    plan = plan_push(local, {}, {}, repository="r", uri=URI)
    assert [s.relative for s in plan.steps] == ["m/config.pbtxt", "m/1/z.bin", "m/1/a_runtime.py"]


def test_an_interrupted_first_push_is_finished_without_force(tmp_path: Path) -> None:
    # config and weights are up, the model file is not: nothing was loadable, so nothing is "served"
    full = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x", "m/1/weights.bin": "w"})
    remote = _remote([f for f in full if f.relative != "m/1/model.py"], T0)
    plan = plan_push(full, remote, {"m": CONFIG}, repository="r", uri=URI)
    assert [(s.action, s.relative) for s in plan.steps] == [("upload", "m/1/model.py")]


def test_new_version_is_pinned_then_published_by_the_config(tmp_path: Path) -> None:
    v1 = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x"})
    local = [*v1, *_files(tmp_path, {"m/2/model.py": "y", "m/2/data.txt": "d"})]
    plan = plan_push(local, _remote(v1, T0), {"m": CONFIG}, repository="r", uri=URI)
    assert [(s.action, s.relative) for s in plan.steps] == [
        ("pin", "m/config.pbtxt"),
        ("upload", "m/2/data.txt"),
        ("upload", "m/2/model.py"),
        ("config", "m/config.pbtxt"),
    ]
    pin = plan.steps[0]
    assert pin.data is not None and list(
        parse_config(pin.data.decode()).version_policy.specific.versions
    ) == [1]
    assert plan.unchanged == 2 and plan.floors == {"m": T0}


def test_nothing_changed_plans_nothing(tmp_path: Path) -> None:
    local = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x"})
    plan = plan_push(local, _remote(local, T0), {"m": CONFIG}, repository="r", uri=URI)
    assert plan.steps == () and plan.unchanged == 2


def test_only_a_config_change_is_one_put(tmp_path: Path) -> None:
    old = _files(tmp_path / "old", {"m/config.pbtxt": CONFIG, "m/1/model.py": "x"})
    local = _files(tmp_path, {"m/config.pbtxt": CONFIG + "max_batch_size: 0\n", "m/1/model.py": "x"})
    plan = plan_push(local, _remote(old, T0), {"m": CONFIG}, repository="r", uri=URI)
    assert [(s.action, s.relative) for s in plan.steps] == [("config", "m/config.pbtxt")]


def test_a_served_version_is_never_overwritten_without_force(tmp_path: Path) -> None:
    old = _files(tmp_path / "old", {"m/config.pbtxt": CONFIG, "m/1/model.py": "x"})
    local = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "changed"})
    with pytest.raises(RepositoryError, match="version 1 of m"):
        plan_push(local, _remote(old, T0), {"m": CONFIG}, repository="r", uri=URI)
    forced = plan_push(local, _remote(old, T0), {"m": CONFIG}, repository="r", uri=URI, force=True)
    assert ("upload", "m/1/model.py") in [(s.action, s.relative) for s in forced.steps]


def test_an_unserved_partial_version_may_be_completed(tmp_path: Path) -> None:
    # An interrupted push left version 2 half-uploaded behind a pin to version 1: the next push finishes it.
    v1 = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x"})
    half = _files(tmp_path / "half", {"m/2/data.txt": "partial"})
    local = [*v1, *_files(tmp_path, {"m/2/data.txt": "d", "m/2/model.py": "y"})]
    pinned = pin_config(CONFIG, [1]).decode()
    plan = plan_push(local, _remote([*v1, *half], T0), {"m": pinned}, repository="r", uri=URI)
    assert [s.action for s in plan.steps] == ["pin", "upload", "upload", "config"]


def test_endpoint_uris_refuse_names_triton_cannot_read(tmp_path: Path) -> None:
    local = _files(tmp_path, {"m/config.pbtxt": CONFIG, "m/1/my file.txt": "x"})
    with pytest.raises(UsageError, match=r"my file\.txt"):
        plan_push(local, {}, {}, repository="r", uri=URI)


def test_a_file_is_hashed_again_only_when_it_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tritonkit.deploy import push

    repo = tmp_path / "repo"
    _files(repo, {"m/config.pbtxt": CONFIG, "m/1/model.py": "x"})
    reads: list[str] = []
    real = push.sha256_file
    monkeypatch.setattr(push, "sha256_file", lambda path: reads.append(path.name) or real(path))
    first = push.scan_local(repo)
    assert sorted(reads) == ["config.pbtxt", "model.py"]
    reads.clear()
    assert push.scan_local(repo) == first and reads == []  # unchanged: a stat each, no read
    (repo / "m" / "1" / "model.py").write_text("changed")
    again = push.scan_local(repo)
    assert reads == ["model.py"] and again[1].sha256 != first[1].sha256
