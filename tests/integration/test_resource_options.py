"""Resource options and refresh behave on every engine (the ``engine`` fixture) as on the real Pulumi CLI
3.274.1, measured: a change to an input named in ``ignore_changes`` is no change at all; a resource deleted
behind Pulumi's back is created again by an ``up`` with ``refresh=True``; a destroy takes a resource with
``retain_on_delete`` out of the state but leaves it in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _state_names(backend: Path) -> list[str]:
    path = backend / ".pulumi" / "stacks" / "opts" / "dev.json"
    resources = json.loads(path.read_text())["checkpoint"]["latest"].get("resources") or []
    return sorted(r["urn"].rsplit("::", 1)[-1] for r in resources if not r["type"].startswith("pulumi:providers:"))


def test_ignore_changes_refresh_recreate_and_retain_on_delete(run_dag_file, backend, engine, tmp_path):
    folder = tmp_path / "files"
    first = run_dag_file("resource_options", engine=engine, folder=str(folder), phase="first", content="one")
    assert first.state == "success", first.output[-3000:]
    assert first.xcom("files", "pulumi_summary")["changes"] == {"create": 4}

    # ignore_changes=["content"]: the new content is ignored, the file and the state keep the old one.
    second = run_dag_file("resource_options", engine=engine, folder=str(folder), phase="second", content="two")
    assert second.state == "success", second.output[-3000:]
    assert second.xcom("files", "pulumi_summary")["changes"] == {"same": 4}
    assert second.xcom("files")["ignored"] == "one"
    assert (folder / "ignored.txt").read_text() == "one"

    # Deleted behind Pulumi's back: `up` with refresh=True finds it gone and creates it again.
    (folder / "plain.txt").unlink()
    last = run_dag_file("resource_options", engine=engine, folder=str(folder), phase="last")
    assert last.state == "success", last.output[-3000:]
    refreshed = last.xcom("files", "pulumi_summary")
    assert refreshed["changes"] == {"create": 1, "same": 3}, refreshed

    # The destroy removes all four from the state, and deletes all but the retained file.
    assert last.xcom("files_destroy", "pulumi_summary")["changes"] == {"delete": 4}
    assert _state_names(backend) == []
    assert sorted(p.name for p in folder.iterdir()) == ["retained.txt"]
    assert (folder / "retained.txt").read_text() == "kept"
