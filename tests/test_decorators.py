"""Parse-time behaviour of @pulumi_stack: validation, signature checks, task.pulumi_stack registration."""

import re

import pendulum
import pytest
from airflow.sdk import dag, task

from airflow_pulumi_decorators import ConfigurationError, Environment, UnknownEnvironmentError, pulumi_stack
from airflow_pulumi_decorators.decorators import _PulumiStackDecoratedOperator

ENVS = {"dev": Environment(stack="dev"), "prod": Environment(stack="prod")}


def _build(**decorator_kwargs):
    """Build a one-task DAG and return the operator."""

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        @pulumi_stack(project="infra", **decorator_kwargs)
        def storage(region: str):
            return {"region": region}

        storage(region="EU")

    return d().get_task("storage")


def test_decorator_builds_our_operator_with_multiple_outputs_on():
    op = _build(stack="dev")
    assert isinstance(op, _PulumiStackDecoratedOperator)
    assert op.multiple_outputs is True
    assert op.op_kwargs == {"region": "EU"}
    assert set(op.template_fields) >= {"op_args", "op_kwargs", "environment", "stack"}


def test_multiple_outputs_can_be_turned_off():
    assert _build(stack="dev", multiple_outputs=False).multiple_outputs is False


def test_task_namespace_exposes_pulumi_stack_through_the_provider_entry_point():
    op = None

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        @task.pulumi_stack(project="infra", stack="dev")
        def storage():
            return {}

        storage()

    op = d().get_task("storage")
    assert isinstance(op, _PulumiStackDecoratedOperator)


def test_neither_stack_nor_environments_is_refused_at_parse_time():
    with pytest.raises(ConfigurationError, match="give 'stack'"):
        _build()


def test_unknown_literal_environment_is_refused_at_parse_time():
    with pytest.raises(UnknownEnvironmentError, match="known environments: dev, prod"):
        _build(environments=ENVS, environment="qa")


def test_templated_environment_is_accepted_at_parse_time():
    assert _build(environments=ENVS, environment="{{ params.env }}").environment == "{{ params.env }}"


def test_several_environments_need_an_environment_argument():
    with pytest.raises(ConfigurationError, match="'environment' is required"):
        _build(environments=ENVS)


def test_environment_without_environments_is_refused():
    with pytest.raises(ConfigurationError, match="needs 'environments'"):
        _build(stack="dev", environment="dev")


def test_bad_project_name_is_refused():
    with pytest.raises(ConfigurationError, match="'project'"):

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
        def d():
            @pulumi_stack(project="bad project", stack="dev")
            def storage():
                return {}

            storage()

        d()


def test_wrong_function_arguments_fail_at_parse_time():
    fit = r"storage\(\.\.\.\) was called with arguments that do not fit the program: missing .*'region'"
    with pytest.raises(ConfigurationError, match=fit):

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
        def d():
            @pulumi_stack(project="infra", stack="dev")
            def storage(region: str):
                return {}

            storage(zone="x")

        d()


# -- one `up` per stack and DAG ----------------------------------------------------------------------------


def _dag_of(build):
    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        build()

    return d()


def _fn(name, **kwargs):
    def program():
        return {}

    program.__name__ = name
    return pulumi_stack(project=kwargs.pop("project", "infra"), **kwargs)(program)


def test_operations_and_ephemeral_stacks_on_one_stack_are_not_a_second_up():
    def build():
        infra = _fn("infra", stack="dev")
        infra()
        infra.preview()
        infra.refresh()
        infra.destroy()
        infra.drift_check()
        infra.with_approval()  # its own preview + up would be a second up on 'dev' ...

    with pytest.raises(ConfigurationError, match="'infra' and 'infra__1'"):
        _dag_of(build)  # ... so the approval flow is refused next to a plain up, naming both tasks

    def ok():
        infra = _fn("infra", stack="dev")
        infra.preview()
        infra.with_approval()
        with _fn("tmp", stack="dev-tmp").ephemeral():
            pass

    assert {"infra_preview", "infra", "tmp", "tmp_teardown"} <= set(_dag_of(ok).task_dict)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"stack": "dev"}, {"stack": "prod"}),
        ({"stack": "dev"}, {"stack": "dev", "project": "other"}),
        ({"environments": ENVS, "environment": "dev"}, {"environments": ENVS, "environment": "prod"}),
        ({"environments": ENVS, "environment": "{{ params.env }}"}, {"environments": ENVS, "environment": "dev"}),
        ({"stack": "pr-{{ params.a }}"}, {"stack": "pr-{{ params.b }}"}),
        ({"stack": "dev", "pulumi_conn_id": "pulumi_a"}, {"stack": "dev", "pulumi_conn_id": "pulumi_b"}),
    ],
)
def test_ups_that_may_touch_different_stacks_are_accepted(first, second):
    def build():
        _fn("a", **first)()
        _fn("b", **second)()

    assert set(_dag_of(build).task_dict) == {"a", "b"}


@pytest.mark.parametrize(
    ("first", "second", "stack"),
    [
        ({"stack": "dev"}, {"stack": "dev"}, "'dev'"),
        ({"environments": ENVS, "environment": "prod"}, {"environments": ENVS, "environment": "prod"}, "'prod'"),
        (
            {"environments": ENVS, "environment": "{{ params.env }}"},
            {"environments": ENVS, "environment": "{{ params.env }}"},
            "'dev'",
        ),
        ({"stack": "pr-{{ params.n }}"}, {"stack": "pr-{{ params.n }}"}, "'pr-{{ params.n }}'"),
        (
            {"environments": ENVS, "environment": "prod"},
            {"stack": "prod", "environments": ENVS, "environment": "dev"},
            "'prod'",
        ),
    ],
)
def test_a_second_up_on_the_same_stack_is_refused_naming_both_tasks(first, second, stack):
    def build():
        _fn("a", **first)()
        _fn("b", **second)()

    with pytest.raises(
        ConfigurationError, match=rf"tasks 'a' and 'b' of DAG 'd' both run `up` on stack {re.escape(stack)}"
    ):
        _dag_of(build)


def test_an_up_task_added_to_the_dag_after_it_was_made_counts_for_the_next_one():
    from airflow.sdk import DAG

    from airflow_pulumi_decorators import PulumiStackOperator

    the_dag = DAG("d", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    PulumiStackOperator(task_id="x", program=lambda: {}, project="infra", stack="other", dag=the_dag)
    the_dag.add_task(PulumiStackOperator(task_id="a", program=lambda: {}, project="infra", stack="dev"))
    with pytest.raises(ConfigurationError, match="tasks 'a' and 'b' of DAG 'd' both run `up` on stack 'dev'"):
        PulumiStackOperator(task_id="b", program=lambda: {}, project="infra", stack="dev", dag=the_dag)


def test_the_first_task_on_the_stack_is_named_and_equal_dags_do_not_share_their_tasks():
    def build():
        _fn("a", stack="dev")()
        _fn("b", stack="prod")()
        _fn("c", stack="dev")()

    with pytest.raises(ConfigurationError, match="tasks 'a' and 'c' of DAG 'd'"):
        _dag_of(build)

    def ok():
        _fn("a", stack="dev")()

    # Two DAGs with the same id compare equal; each is checked against its own tasks only.
    assert _dag_of(ok) == _dag_of(ok)


# -- calling it where no task can be made ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["", ".up", ".preview", ".destroy", ".ephemeral"])
def test_calling_outside_a_dag_is_refused(method):
    infra = _fn("infra", stack="dev")
    call = getattr(infra, method[1:]) if method else infra
    with pytest.raises(ConfigurationError, match=rf"infra{re.escape(method)}\(\.\.\.\) was called outside a DAG"):
        call()


def test_an_explicit_dag_argument_is_enough():
    from airflow.sdk import DAG

    target = DAG("explicit", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    _fn("infra", stack="dev", dag=target)()
    assert "infra" in target.task_dict


# -- other parse-time checks -------------------------------------------------------------------------------


def test_a_path_as_pulumi_command_is_refused_pointing_at_cli_path(tmp_path):
    with pytest.raises(ConfigurationError, match=r"cli_path=.*PulumiCommand\(root="):
        _build(stack="dev", pulumi_command=tmp_path / "pulumi")


def test_a_stack_must_name_the_tasks_project():
    with pytest.raises(ConfigurationError, match="names project 'billing'.*'organization/infra/dev'"):
        _build(stack="organization/billing/dev")
    with pytest.raises(ConfigurationError, match=r"environments\['dev'\].stack"):
        _build(environments={"dev": Environment(stack="acme/billing/dev")})
    assert _build(stack="organization/infra/dev").stack == "organization/infra/dev"


def test_token_lifetime_must_cover_execution_timeout():
    import datetime

    from airflow_pulumi_decorators.errors import CredentialLifetimeError
    from airflow_pulumi_decorators.identity import GkeMetadataServer, ServiceAccountImpersonation

    sa = "deployer@acme-prod.iam.gserviceaccount.com"
    envs = {
        "dev": Environment(
            stack="dev", identity=ServiceAccountImpersonation(sa, source=GkeMetadataServer(), lifetime=3600)
        )
    }
    with pytest.raises(CredentialLifetimeError, match="lives 3600s.*execution_timeout of 3600s"):
        _build(environments=envs, execution_timeout=datetime.timedelta(hours=1))
    assert _build(environments=envs, execution_timeout=datetime.timedelta(minutes=55)).task_id == "storage"
    refreshable = {"dev": Environment(stack="dev", credential_mode="refreshable", identity=envs["dev"].identity)}
    assert _build(environments=refreshable, execution_timeout=datetime.timedelta(hours=5)).task_id == "storage"


# -- config templates (rendered at task start) -------------------------------------------------------------

SECRET_WORD = "tmpl-word-5f0c2e"


def test_config_templates_are_rendered_for_the_run_and_secrets_stay_hidden(run_dag, header, engine, monkeypatch):
    from tests.dagrun import all_text_under

    monkeypatch.setenv("AIRFLOW_VAR_DB_WORD", SECRET_WORD)  # a name Airflow's masker does not know as secret
    run = run_dag(header + """
ENVS = {
    "dev": Environment(stack="dev", config={"tmpl:region": "{{ params.region }}", "tmpl:size": 3},
                       secret_config={"tmpl:word": "{{ var.value.db_word }}"}),
    "prod": Environment(stack="prod", config={"tmpl:region": "{{ var.value.prod_only_region }}"}),
}

@dag(dag_id="{dag_id}", schedule=None, start_date=START, params={"region": "EU", "env": "dev"})
def d():
    @pulumi_stack(project="tmpl", environments=ENVS, environment="{{ params.env }}", pulumi_command=ENGINE)
    def infra():
        cfg = pulumi.Config("tmpl")
        word = cfg.require_secret("word")
        return {"region": cfg.require("region"), "size": cfg.require_int("size"),
                "word_length": pulumi.Output.unsecret(word.apply(len))}
    infra()
the_dag = d()
""")
    assert run.state == "success", run.output[-3000:]
    # Rendered for this run; prod's template (an unset Variable) is never rendered.
    assert run.xcom("infra") == {"region": "EU", "size": 3, "word_length": len(SECRET_WORD)}
    for place in (run.output, repr(run.rendered), repr(run.xcoms), all_text_under(run.backend)):
        assert SECRET_WORD not in place
    assert "{{ var.value.db_word }}" not in repr(run.rendered)  # config is no rendered template field


def test_a_direct_operator_renders_config_templates_too(run_dag, header, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_DB_WORD", SECRET_WORD)
    run = run_dag(header + """
from airflow_pulumi_decorators import PulumiStackOperator

ENVS = {"dev": Environment(stack="dev", config={"tmpl:region": "{{ params.region }}"},
                           secret_config={"tmpl:word": "{{ var.value.db_word }}"})}

def infra():
    cfg = pulumi.Config("tmpl")
    return {"region": cfg.require("region"),
            "word_length": pulumi.Output.unsecret(cfg.require_secret("word").apply(len))}

@dag(dag_id="{dag_id}", schedule=None, start_date=START, params={"region": "EU"})
def d():
    PulumiStackOperator(task_id="infra", project="tmpl", program=infra, environments=ENVS, pulumi_command=ENGINE)
the_dag = d()
""")
    assert run.state == "success", run.output[-3000:]
    assert run.xcom("infra") == {"region": "EU", "word_length": len(SECRET_WORD)}
    assert SECRET_WORD not in run.output


def test_config_templates_left_unrendered_are_refused_when_the_environment_is_resolved():
    from airflow_pulumi_decorators.environments import resolve_environment

    envs = {"dev": Environment(stack="dev", config={"app:region": "{{ params.region }}"})}
    with pytest.raises(ConfigurationError, match=r"config templates \['app:region'\] that were not rendered"):
        resolve_environment(environments=envs, environment="dev", stack=None)


def test_none_from_upstream_is_passed_when_the_parameter_defaults_to_none(run_dag):
    run = run_dag("""
import pendulum
from airflow.sdk import dag, task
from airflow_pulumi_decorators import pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @task
    def previous():
        return None

    @pulumi_stack(project="infra", stack="dev", pulumi_command=StandinCommand())
    def storage(region: str = "EU", previous_bucket: str | None = None):
        return {"had_previous": previous_bucket is not None, "region": region}

    storage(previous_bucket=previous())
    storage.override(task_id="positional", stack="other")(previous())
the_dag = d()
""")
    assert run.task_states["storage"] == "success", run.output[-3000:]
    assert run.xcom("storage") == {"had_previous": False, "region": "EU"}
    # 'region' defaults to "EU", not None: refused, named by its parameter (it was passed positionally).
    assert run.task_states["positional"] == "failed"
    assert "argument 'region' of 'positional' comes from upstream task 'previous__1'" in run.output


def test_a_literal_secret_with_braces_fails_without_being_shown(run_dag):
    secret = "hunter{{2-secret-9d1"
    run = run_dag("""
import pendulum
from airflow.sdk import dag
from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.testing import StandinCommand

@dag(dag_id="{dag_id}", schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="infra", environments={"dev": Environment(stack="dev", secret_config={"db:pw": SECRET})},
                  pulumi_command=StandinCommand())
    def storage():
        return {}
    storage()
the_dag = d()
""".replace("SECRET", repr(secret)))
    assert run.task_states["storage"] == "failed"
    assert "secret_config['db:pw'] contains '{{' or '{%'" in run.output and "{% raw %}" in run.output
    assert secret not in run.output and secret not in repr(run.rendered)


def test_a_task_with_environments_survives_deepcopy_pickle_and_partial_subset():
    """Airflow deep-copies operators when a task is cleared with its upstream/downstream (partial_subset)."""
    import copy
    import pickle

    envs = {
        "dev": Environment(stack="dev", config={"gcp:project": "acme-dev"}),
        "prod": Environment(stack="prod", secret_config={"db:password": "hunter2"}),
    }

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def d():
        @pulumi_stack(project="infra", environments=envs, environment="{{ params.env }}")
        def storage():
            return {}

        @task
        def load(x):
            return x

        load(storage())

    built = d()
    op = built.get_task("storage")
    copied = copy.deepcopy(op)
    assert copied.environments["dev"].config == {"gcp:project": "acme-dev"}
    assert pickle.loads(pickle.dumps(op.environments))["prod"].stack == "prod"
    subset = built.partial_subset(task_ids=["load"], include_upstream=True)
    assert set(subset.task_dict) == {"storage", "load"}
    with pytest.raises(TypeError):
        copied.environments["dev"].config["gcp:project"] = "other"  # still read-only


def test_mapping_an_up_on_one_fixed_stack_fails_when_the_dag_is_parsed():
    import pendulum
    from airflow.sdk import dag

    from airflow_pulumi_decorators import ConfigurationError, PulumiStackOperator, pulumi_stack

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def fan_out():
        @pulumi_stack(project="regions", stack="shared")
        def regional(region: str):
            return {"region": region}

        regional.expand(region=["eu", "us"])

    with pytest.raises(ConfigurationError, match="'regional' is mapped"):
        fan_out()

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def operator_fan_out():
        PulumiStackOperator.partial(task_id="regional", program=dict, project="regions", stack="shared").expand(
            op_kwargs=[{"region": "eu"}, {"region": "us"}]
        )

    with pytest.raises(ConfigurationError, match="'regional' is mapped"):
        operator_fan_out()

    @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1))
    def per_region():
        @pulumi_stack(project="regions", stack="r{{ ti.map_index }}")
        def regional(region: str):
            return {"region": region}

        regional.expand(region=["eu", "us"])
        regional.override(task_id="again", stack="{{ task.op_kwargs['region'] }}").partial().expand_kwargs(
            [{"region": "eu"}]
        )

    assert {t.task_id for t in per_region().tasks} == {"regional", "again"}
