"""The Pulumi Cloud extra link on the operator and its URLs."""

import pendulum
from airflow.sdk import dag

from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.publish.links import PulumiStackLink, PulumiUpdateLink, stack_page_url, update_url


def test_operator_carries_the_link_and_the_dag_serializes_with_it():
    from airflow.serialization.serialized_objects import DagSerialization

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def linked():
        @pulumi_stack(project="infra", stack="acme/dev")
        def infra():
            return {}

        infra()

    the_dag = linked()
    op = the_dag.get_task("infra")
    assert any(isinstance(link, PulumiUpdateLink) for link in op.operator_extra_links)
    assert any(isinstance(link, PulumiStackLink) for link in op.operator_extra_links)
    restored = DagSerialization.from_dict(DagSerialization.to_dict(the_dag))
    assert {"Pulumi update", "Pulumi stack"} <= set(restored.get_task("infra").extra_links)


FAILING = """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="links", stack="dev", pulumi_command=ENGINE)
    def broken():
        raise RuntimeError("boom in the program")
    broken()
the_dag = d()
"""

WORKING = """
@dag(dag_id="{dag_id}", schedule=None, start_date=START)
def d():
    @pulumi_stack(project="links", stack="dev", pulumi_command=ENGINE)
    def fine():
        return {"ok": 1}
    fine()
the_dag = d()
"""


def test_failed_task_logs_no_second_error_from_the_link(run_dag, header):
    result = run_dag(header + FAILING)
    assert result.task_states["broken"] == "failed"
    assert "boom in the program" in result.output
    assert "XCom not found" not in result.output, result.output[-3000:]
    assert "Failed to push an xcom for task operator extra link" not in result.output
    assert result.xcom("broken", "_link_PulumiUpdateLink") == ""  # quietly no URL
    # The stack was known when the program failed: its page says what the task was doing.
    assert result.xcom("broken", "_link_PulumiStackLink") == stack_page_url("links", "dev")


def test_successful_task_gets_the_link_from_its_own_update(run_dag, header):
    result = run_dag(header + WORKING)
    assert result.state == "success", result.output[-3000:]
    assert "XCom not found" not in result.output
    assert result.xcom("fine", "pulumi_summary")["url"] is None  # file backend: no console
    assert result.xcom("fine", "_link_PulumiUpdateLink") == ""
    assert result.xcom("fine", "_link_PulumiStackLink") == stack_page_url("links", "dev")


def test_link_reads_the_url_the_operator_that_ran_carries_and_the_xcom_otherwise(monkeypatch):
    from airflow.sdk.execution_time import xcom

    class Ran:
        _pulumi_update_url = "https://app.pulumi.com/acme/net/prod/updates/7"

    read = []
    monkeypatch.setattr(xcom.XCom, "get_value", classmethod(lambda cls, **kw: read.append(kw) or {"url": "from-xcom"}))
    link = PulumiUpdateLink()
    assert link.get_link(Ran(), ti_key=object()) == "https://app.pulumi.com/acme/net/prod/updates/7"
    Ran._pulumi_update_url = None
    assert link.get_link(Ran(), ti_key=object()) == ""
    assert not read
    assert link.get_link(object(), ti_key="key") == "from-xcom"
    assert read == [{"ti_key": "key", "key": "pulumi_summary"}]


def test_update_link_only_for_pulumi_cloud_with_an_organization():
    assert update_url("https://api.pulumi.com", "net", "acme/prod", 7) == "https://app.pulumi.com/acme/net/prod/updates/7"
    assert update_url("https://api.pulumi.com", "net", "acme/other/prod", None) == "https://app.pulumi.com/acme/other/prod"
    assert update_url("https://api.pulumi.com", "net", "prod", 7) is None
    assert update_url("file:///state", "net", "acme/prod", 7) is None
    assert update_url("gs://bucket", "net", "acme/prod", 7) is None


def test_stack_link_reads_the_page_the_operator_that_ran_carries_and_the_target_xcom_otherwise(monkeypatch):
    from airflow.sdk.execution_time import xcom

    class Ran:
        _pulumi_stack_page = "/pulumi/stack?project=net&stack=prod"

    read = []
    target = {"project": "net", "stack": "acme/net/prod"}
    monkeypatch.setattr(xcom.XCom, "get_value", classmethod(lambda cls, **kw: read.append(kw) or target))
    link = PulumiStackLink()
    assert link.get_link(Ran(), ti_key=object()) == "/pulumi/stack?project=net&stack=prod"
    Ran._pulumi_stack_page = None  # failed before its stack was known
    assert link.get_link(Ran(), ti_key=object()) == ""
    assert not read
    assert link.get_link(object(), ti_key="key") == "/pulumi/stack?project=net&stack=acme%2Fnet%2Fprod"
    assert read == [{"ti_key": "key", "key": "pulumi_target"}]
    target.clear()
    assert link.get_link(object(), ti_key="key") == ""


def test_stack_page_url_is_below_the_api_base_url_when_set(monkeypatch):
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    assert stack_page_url("net", "prod") == "/pulumi/stack?project=net&stack=prod"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/base/")
    assert stack_page_url("net", "prod") == "https://airflow.example.com/base/pulumi/stack?project=net&stack=prod"
