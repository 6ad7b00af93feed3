"""End to end on real Airflow 3 (``dag.test()``) with the in-process stand-in engine: what is specific to
it or to the task itself. The scenarios every engine must pass are in ``test_scenarios.py``.
"""

from __future__ import annotations

import pytest

from airflow_pulumi_decorators.testing.dagrun import StateDir

pytestmark = pytest.mark.integration


def test_single_task_returns_stack_outputs_as_xcom(run_dag_file):
    """The README's example (a GCS bucket): stand-in only, since a real CLI would need GCP credentials."""
    result = run_dag_file("readme_bucket")
    assert result.state == "success", result.output[-3000:]
    out = result.xcom("storage")
    assert out["location"] == "EU" and out["region"] == "EU"
    assert out["bucket"] == "acme-raw-eu"
    # multiple_outputs: each key is also its own XCom
    assert result.xcom("storage", "location") == "EU"
    assert "changes: create=2" in result.output  # the bucket and the stack resource, as Pulumi counts
    assert "creates no cloud resources" in result.output


def test_unknown_environment_at_run_time_lists_known_ones(run_dag_file):
    result = run_dag_file("environment_by_param", run_conf={"env": "qa"})
    assert result.task_states["infra"] == "failed"
    assert "environment 'qa' is not defined" in result.output and "dev, prod" in result.output


def test_secret_output_opt_in_pushes_it(run_dag_file):
    result = run_dag_file("pushed_secret")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra", "token") == "pushed-secret-77aa"


def test_explicit_pulumi_export_works_without_a_return_value(run_dag_file):
    result = run_dag_file("explicit_exports")
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("infra") == {"length": 3, "name": "fixed"}


def test_returning_something_other_than_a_dict_is_a_clear_program_error(run_dag_file):
    result = run_dag_file("list_return")
    assert result.task_states["infra"] == "failed"
    assert "must return a dict of stack outputs or None, got list" in result.output


def test_mapped_operator_tasks_take_their_options_from_partial_and_expand(run_dag_file, engine):
    """``partial(refresh=True)`` (an option keyword) and ``options`` per mapped task reach each task's run."""
    dag_id = f"t_mapped_options_{engine.name.replace('-', '_')}"
    result = run_dag_file("mapped_options", engine=engine, dag_id=dag_id)
    assert result.state == "success", result.output[-3000:]
    ups = [call.argv for call in engine.calls(result.backend) if call.command == "up"]
    assert len(ups) == 4, ups
    refreshed = sorted(argv[argv.index("--stack") + 1] for argv in ups if "--refresh" in argv)
    assert refreshed == ["g0", "r0", "r1"], ups
    # Each mapped stack's asset gets its one event (through the alias: a mapped task declares no asset at parse).
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = sorted(model.uri for event, model in session.query(AssetEvent, AssetModel).join(
            AssetModel, AssetEvent.asset_id == AssetModel.id).filter(AssetEvent.source_dag_id == dag_id))
    assert events == [f"pulumi://mapped/{stack}" for stack in ("g0", "g1", "r0", "r1")]


@pytest.mark.parametrize("stack", ["r{{ ti.map_index }}", "{{ task.op_kwargs['region'] }}"])
def test_a_stack_task_mapped_over_regions_deploys_one_stack_per_map_index(run_dag_file, engine, stack):
    result = run_dag_file("mapped_regions", engine=engine, stack=stack)
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("collect") == ["raw-asia", "raw-eu", "raw-us"]
    stacks = ["r0", "r1", "r2"] if "map_index" in stack else ["eu", "us", "asia"]
    ups = sorted(call.argv[call.argv.index("--stack") + 1] for call in engine.calls(result.backend)
                 if call.command == "up")
    assert ups == sorted(stacks), ups
    assert StateDir(result.backend).stacks() == sorted(("regions", name) for name in stacks)
