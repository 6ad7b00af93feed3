"""The offline test resources' providers (:mod:`airflow_pulumi_decorators.testing.resources`), called as an
engine calls them; on every engine, in ``tests/integration/test_scenarios.py``."""

from __future__ import annotations

import hashlib
import time

from airflow_pulumi_decorators.testing.resources import _WORDS, _FakeNameProvider, _LocalFileProvider, _SleepProvider

SERIALIZED = {"__provider": "serialized provider code"}


def test_local_file_create_writes_it_and_reports_computed_outputs(tmp_path):
    path = str(tmp_path / "sub" / "conf.txt")
    made = _LocalFileProvider().create({"path": path, "content": "size=3", **SERIALIZED})
    assert made.id == path
    assert made.outs == {"path": path, "content": "size=3", "sha256": hashlib.sha256(b"size=3").hexdigest(), "size": 6}
    assert (tmp_path / "sub" / "conf.txt").read_text() == "size=3"


def test_local_file_diff_replaces_on_a_new_path_and_updates_on_new_content(tmp_path):
    provider = _LocalFileProvider()
    olds = {"path": "/a", "content": "x"}
    assert provider.diff("/a", olds, {"path": "/a", "content": "x"}).changes is False
    content = provider.diff("/a", olds, {"path": "/a", "content": "y"})
    assert content.changes is True and not content.replaces
    moved = provider.diff("/a", olds, {"path": "/b", "content": "x"})
    assert moved.changes is True and moved.replaces == ["path"] and moved.delete_before_replace is True
    path = str(tmp_path / "f.txt")
    provider.create({"path": path, "content": "x"})
    assert provider.update(path, {}, {"path": path, "content": "yz", **SERIALIZED}).outs["size"] == 2
    assert (tmp_path / "f.txt").read_text() == "yz"


def test_local_file_read_sees_drift_and_deletion(tmp_path):
    provider = _LocalFileProvider()
    path = str(tmp_path / "f.txt")
    provider.create({"path": path, "content": "file 0"})
    (tmp_path / "f.txt").write_text("edited by hand")
    read = provider.read(path, {"path": path, "content": "file 0"})
    assert read.id == path and read.outs["content"] == "edited by hand"
    provider.delete(path, {})
    assert not (tmp_path / "f.txt").exists()
    provider.delete(path, {})  # already gone: no error
    gone = provider.read(path, {})
    assert gone.id == "" and gone.outs == {}


def test_fake_name_is_computed_from_the_inputs_only():
    provider = _FakeNameProvider()
    inputs = {"prefix": "raw", "length": 2, "separator": "_", "keepers": {}, "name": None}
    first = provider.create({**inputs, **SERIALIZED})
    name = first.outs["name"]
    assert first.id == name and first.outs == {**inputs, "name": name}
    prefix, *words = name.split("_")
    assert prefix == "raw" and len(words) == 2 and set(words) <= set(_WORDS)
    assert provider.create(dict(inputs)).outs["name"] == name  # the serialized provider is no input
    changed = provider.update(first.id, first.outs, {**inputs, "keepers": {"v": 2}}).outs["name"]
    assert changed != name and changed.startswith("raw_")
    plain = provider.create({"prefix": "", "length": 3, "separator": "-", "keepers": {}, "name": None}).outs["name"]
    assert len(plain.split("-")) == 3


def test_sleep_takes_its_seconds_and_keeps_its_inputs():
    started = time.monotonic()
    made = _SleepProvider().create({"seconds": 0.2, **SERIALIZED})
    assert time.monotonic() - started >= 0.2
    assert made.outs == {"seconds": 0.2} and len(made.id) == 12
    assert _SleepProvider().update(made.id, made.outs, {"seconds": 0.0}).outs == {"seconds": 0.0}
