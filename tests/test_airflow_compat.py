"""The Airflow internals we use, each through airflow_pulumi_decorators._airflow, against the installed Airflow."""

import ast
from pathlib import Path

import pendulum
import pytest
from airflow.sdk import DAG, BaseHook, BaseOperator

import airflow_pulumi_decorators
from airflow_pulumi_decorators import _airflow
from tests.astparse import parse_file


def test_determine_kwargs_passes_only_the_context_keys_the_program_takes():
    def program(region, ds, params=None):
        return region, ds, params

    context = {"ds": "2026-01-01", "params": {"env": "dev"}, "ti": object()}
    assert dict(_airflow.determine_kwargs(program, ["EU"], context)) == {"ds": "2026-01-01", "params": {"env": "dev"}}

    def takes_all(**kwargs):
        return kwargs

    assert dict(_airflow.determine_kwargs(takes_all, [], context)) == context


def test_in_dag_context_is_true_only_inside_a_dag_body():
    assert _airflow.in_dag_context() is False
    with DAG("compat_ctx", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        assert _airflow.in_dag_context() is True
    assert _airflow.in_dag_context() is False


XCOM_DAG = """
import pendulum
from airflow.sdk import dag, task
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow_pulumi_decorators._airflow import xcom_value

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @task
    def produce():
        return {"url": "https://app.pulumi.com/acme/net/dev/updates/3"}

    @task
    def read(ti=None, run_id=None):
        key = TaskInstanceKey(ti.dag_id, "produce", run_id, ti.try_number, -1)
        return {"read": xcom_value(key, "return_value"), "missing": xcom_value(key, "no_such_key")}

    produce() >> read()
the_dag = d()
"""


def test_xcom_value_reads_another_task_instances_xcom_in_a_running_task(run_dag):
    result = run_dag(XCOM_DAG)
    assert result.state == "success", result.output[-3000:]
    assert result.xcom("read", "return_value") == {
        "read": {"url": "https://app.pulumi.com/acme/net/dev/updates/3"},
        "missing": None,
    }


def test_approval_operator_is_the_standard_providers_hitl_operator():
    cls = _airflow.approval_operator()
    assert cls.__name__ == "ApprovalOperator" and issubclass(cls, BaseOperator)
    with DAG("compat_hitl", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        gate = cls(task_id="gate", subject="Apply?")
    assert gate.options == ["Approve", "Reject"]


def test_config_get_reads_airflow_configuration_and_falls_back(monkeypatch):
    monkeypatch.setenv("AIRFLOW__PULUMI__COMPAT_PROBE", "from-env")
    assert _airflow.config_get("pulumi", "compat_probe") == "from-env"
    assert _airflow.config_get("pulumi", "compat_unset_probe", fallback="fb") == "fb"
    assert _airflow.config_get("core", "dags_folder")  # a file/default value, not only the environment


def test_not_found_exception_is_what_get_connection_raises_for_a_missing_connection():
    exc = _airflow.not_found_exception()
    with pytest.raises(exc):
        BaseHook.get_connection("apd_compat_no_such_connection")


# -- the rule: nothing else in the package reaches into Airflow internals ------------------------------------

PACKAGE = Path(airflow_pulumi_decorators.__file__).parent
#: What the package may import from Airflow outside _airflow.py: ``airflow.sdk``'s public top level,
#: ``airflow.sdk.log.mask_secret`` (the documented way to mask a value in task logs) and, in decorators.py,
#: ``airflow.sdk.bases.decorator`` — Airflow's documented way to build a custom ``@task`` decorator.
#: Everything else (``airflow.sdk.definitions``, ``airflow.sdk.execution_time``, ``airflow.providers``,
#: ``airflow.models``, ``airflow.configuration``, ``airflow.exceptions`` …) goes through _airflow.py.
PUBLIC = {"airflow.sdk": None, "airflow.sdk.log": {"mask_secret"}}
ALLOWED = {
    ("decorators.py", "airflow.sdk.bases.decorator"): {"DecoratedOperator", "task_decorator_factory", "TaskDecorator"},
}


def _internal_imports(path: Path, root: Path = PACKAGE) -> list[tuple[str, str, int]]:
    found = []
    for node in ast.walk(parse_file(path)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules, names = [node.module], {a.name for a in node.names}
            if node.module == "airflow":  # ``from airflow import models`` reaches the same place
                modules = [f"airflow.{name}" for name in names]
        elif isinstance(node, ast.Import):
            modules, names = [a.name for a in node.names], None
        else:
            continue
        for module in modules:
            if module.split(".")[0] != "airflow":
                continue
            allowed = PUBLIC.get(module, ALLOWED.get((path.name, module), set()))
            if module in PUBLIC and allowed is None and names is not None:
                continue  # ``from airflow.sdk import X``: the public top level
            if names and allowed and names <= allowed:
                continue
            found.append((str(path.relative_to(root)), module, node.lineno))
    return found


def test_only_the_compat_module_imports_airflow_internals():
    files = [
        p for p in PACKAGE.rglob("*.py") if p.name != "_airflow.py" and "testing" not in p.relative_to(PACKAGE).parts
    ]
    assert len(files) > 20  # the scan sees the package
    assert [hit for path in files for hit in _internal_imports(path)] == []


def test_the_scan_finds_an_internal_import(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from airflow.sdk.execution_time.xcom import XCom\n"
        "import airflow.models.xcom\nfrom airflow import exceptions\n"
        "from airflow.sdk.bases.decorator import determine_kwargs\n"
        "from airflow.sdk import BaseOperator\nfrom airflow.sdk.log import mask_secret\n"
        "from airflow.sdk.definitions.xcom_arg import XComArg\nfrom airflow.sdk.configuration import conf\n"
    )
    hits = _internal_imports(probe, tmp_path)
    assert sorted((line, m) for _, m, line in hits) == [
        (2, "airflow.sdk.execution_time.xcom"), (3, "airflow.models.xcom"), (4, "airflow.exceptions"),
        (5, "airflow.sdk.bases.decorator"), (8, "airflow.sdk.definitions.xcom_arg"), (9, "airflow.sdk.configuration"),
    ]
