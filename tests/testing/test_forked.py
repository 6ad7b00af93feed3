"""Forked task processes: the child runs ``execute`` with a stand-in context, reports its result and exit code."""

import json

from airflow_pulumi_decorators.testing.forked import FakeOutletEvents, FakeTaskInstance, fork_task, wait_all


class Recorder:
    """Stands in for an operator: ``execute`` reads the context the way PulumiStackOperator does."""

    task_id = "t1"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def execute(self, context):
        print("running", context["ti"].dag_id, context["ti"].task_id, context["run_id"])
        context["ti"].xcom_push("k", "v")
        context["outlet_events"]["alias"].add("asset", extra={"a": 1})
        if self.fail:
            raise RuntimeError("boom")
        return {"pushed": context["ti"].pushed, "added": len(context["outlet_events"]["alias"].added)}


def test_the_child_writes_its_result_and_log_and_exits_zero(tmp_path):
    pid = fork_task(Recorder, dag_id="d", log_path=str(tmp_path / "t1.log"), result_path=str(tmp_path / "t1.json"))
    assert wait_all([pid]) == [0]
    assert json.loads((tmp_path / "t1.json").read_text()) == {"pushed": {"k": "v"}, "added": 1}
    assert "running d t1 manual__1" in (tmp_path / "t1.log").read_text()


def test_a_failing_task_exits_one_with_its_traceback_in_the_log(tmp_path):
    pids = [fork_task(lambda: Recorder(fail=True), dag_id="d", log_path=str(tmp_path / f"{i}.log")) for i in range(2)]
    assert wait_all(pids) == [1, 1]
    assert all("RuntimeError: boom" in (tmp_path / f"{i}.log").read_text() for i in range(2))


def test_the_stand_ins_record_what_the_task_does():
    ti = FakeTaskInstance("t", dag_id="d")
    ti.xcom_push("return_value", 1)
    events = FakeOutletEvents()
    events["x"].add("a", extra={"k": 1})
    assert (ti.pushed, events["x"].added, ti.try_number, ti.map_index) == (
        {"return_value": 1},
        [("a", {"k": 1})],
        1,
        -1,
    )
