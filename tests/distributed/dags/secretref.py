"""Secret outputs passed downstream across workers (``secret_outputs="reference"``, issue 23).

``infra`` runs on worker A (queue ``worker_a``) and returns a ``pulumi.Output.secret`` (``token``) and a secret
config value (``password``); its consumers run on worker B (queue ``worker_b``), where the XCom backend
(``PulumiSecretXCom``, every Airflow process of the harness) resolves the references: a TaskFlow task, a
``BashOperator`` with the values in templated fields, and a mapped task. Each prints what it got (its log must
show ``***``) and fails unless it got the right value. ``nopass`` runs on worker C, whose ``pulumi`` connection
has no passphrase: it must fail with ``SecretOutputAccessError`` before its function runs.

This file only builds the DAG; ``secretref_standin.py`` and ``secretref_real.py`` are the DAG files, one per engine,
because a reading task finds the CLI the way a worker configures it for every task (``[pulumi] cli_path``), not
per DAG: each file sets it for the processes that parse it (a task's process parses its DAG's file before it
reads XCom). A deployment has one CLI per worker and sets ``[pulumi] cli_path`` (or PATH) once.

The secret values are the harness's (``APD_DIST_SECRET_TOKEN``, ``APD_DIST_SECRET_CFG`` in every Airflow
process's environment), never this file's text: Airflow stores a DAG file's source in its database. The
consumers compare what they got with those variables.
"""

import os

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task
from dist_common import START

from airflow_pulumi_decorators import Environment, pulumi_stack

TOKEN, PASSWORD = "APD_DIST_SECRET_TOKEN", "APD_DIST_SECRET_CFG"
#: The template a templated field reads an output with (through the XCom backend, like a TaskFlow argument).
PULL = "{{{{ ti.xcom_pull(task_ids='infra', key='{key}') }}}}"


def build(engine: str, cli: str):
    # Read when the file is parsed (dag-processor and workers): an Environment is not serialized.
    envs = {"dev": Environment(stack="dev", secret_config={"db:password": os.environ.get(PASSWORD, "unset")})}

    @dag(dag_id=f"secretref__{engine}", schedule=None, start_date=START)
    def secretref():
        @pulumi_stack(project=f"secretref_{engine}", environments=envs, cli_path=cli, queue="worker_a",
                      secret_outputs="reference")
        def infra():
            import pulumi

            return {"token": pulumi.Output.secret(os.environ[TOKEN]),
                    "password": pulumi.Config("db").require_secret("password"),
                    "host": "db.internal"}

        out = infra()

        @task(queue="worker_b")
        def load(token: str, password: str, host: str) -> None:
            print(f"connecting to {host} as app_user with token {token} and password {password}")
            if token != os.environ[TOKEN] or password != os.environ[PASSWORD]:
                raise ValueError("load did not get the stack's secret outputs")  # never the values

        @task(queue="worker_b")
        def per_region(token: str, region: str) -> None:
            print(f"region {region} uses token {token}")
            if token != os.environ[TOKEN]:
                raise ValueError(f"per_region[{region}] did not get the stack's secret output")

        @task(queue="nopass")
        def nopass(token: str) -> None:
            raise AssertionError("a worker without the passphrase was handed the value")

        load(out["token"], out["password"], out["host"])
        per_region.partial(token=out["token"]).expand(region=["eu", "us"])
        nopass(out["token"])
        BashOperator(
            task_id="classic",
            queue="worker_b",
            bash_command=f'echo "classic sees {PULL.format(key="token")}"; test "$TOKEN" = "${TOKEN}" && '
                         f'test "$PASSWORD" = "${PASSWORD}" && echo "classic: both match"',
            env={"TOKEN": PULL.format(key="token"), "PASSWORD": PULL.format(key="password")},
            append_env=True,
            do_xcom_push=False,  # its last line would be its own XCom
        ).set_upstream(out)

    return secretref()


def configure(engine: str) -> None:
    """Build the engine's DAG when the deployment has that engine, with ``[pulumi] cli_path`` set to it."""
    from dist_common import engines

    cli = engines().get(engine)
    if cli:
        os.environ["AIRFLOW__PULUMI__CLI_PATH"] = cli
        build(engine, cli)
