"""Drift as an asset event: each drift check emits ``pulumi-drift://<project>/<stack>`` with ``drift``,
``changes`` and the drifted ``resources`` in its extra (no values), on every engine; the stack's own asset
``pulumi://<project>/<stack>`` gets no event from a check."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def _events(uri: str, dag_id: str) -> list[tuple[str, dict]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        asset = session.query(AssetModel).filter(AssetModel.uri == uri).one_or_none()
        if asset is None:
            return []
        return [(e.source_task_id, e.extra) for e in session.query(AssetEvent).filter(AssetEvent.asset_id == asset.id)
                if e.source_dag_id == dag_id]


def test_drift_checks_emit_the_stacks_drift_event_with_what_drifted(run_dag_file, engine, tmp_path):
    folder = tmp_path / "files"
    name = engine.name.replace("-", "_")
    deployed = run_dag_file("drift_event", engine=engine, dag_id=f"t_drift_up_{name}", phase="deploy",
                            folder=str(folder))
    assert deployed.state == "success", deployed.output[-3000:]

    clean_id = f"t_drift_clean_{name}"
    clean = run_dag_file("drift_event", engine=engine, dag_id=clean_id, folder=str(folder))
    assert clean.state == "success", clean.output[-3000:]
    events = dict(_events("pulumi-drift://drifty/prod", clean_id))
    assert set(events) == {"files_drift_check", "files_refresh"}
    assert events["files_drift_check"] == {"project": "drifty", "stack": "prod", "operation": "preview",
                                           "drift": False, "changes": {}, "resources": []}
    assert events["files_refresh"]["drift"] is False

    (folder / "conf.txt").write_text("edited by hand")
    drifted_id = f"t_drift_found_{name}"
    drifted = run_dag_file("drift_event", engine=engine, dag_id=drifted_id, folder=str(folder))
    assert drifted.state == "success", drifted.output[-3000:]
    events = dict(_events("pulumi-drift://drifty/prod", drifted_id))
    check = events["files_drift_check"]
    assert check["drift"] is True and check["changes"] == {"update": 1}
    [resource] = check["resources"]
    assert (resource["op"], resource["type"], resource["name"]) == ("update", "pulumi-python:dynamic/apd:LocalFile",
                                                                    "conf")
    assert resource["properties"] == ["content"]  # what an up would set back, no values
    assert "edited by hand" not in str(events)
    refresh = events["files_refresh"]
    assert refresh["drift"] is True
    assert [(r["op"], r["name"], r["properties"]) for r in refresh["resources"]] == [
        ("update", "conf", ["content", "sha256", "size"])]  # what the refresh read from the cloud
    # The preview task's XCom has the values: the cloud's, and what the update would set back.
    [step] = drifted.xcom("files_drift_check")["steps"]
    assert step["diff"] == [{"path": "content", "kind": "update", "old": '"edited by hand"', "new": '"one"'}]
    assert ("pulumi: asset event pulumi-drift://drifty/prod (drift: true; update conf)" in drifted.output)
    assert _events("pulumi://drifty/prod", drifted_id) == [] and _events("pulumi://drifty/prod", clean_id) == []
