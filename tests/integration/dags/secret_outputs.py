"""Secret outputs of every shape and a secret config value, withheld from XCom or pushed (``push``); the
secret values come from the parameters (``test_scenarios.py``)."""

import pendulum
import pulumi
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
ENGINE = pulumi_command(PARAMS)
SECRET = PARAMS.get("secrets", {})
FOLDER = PARAMS.get("folder", "/tmp/apd-secret-outputs")
ENVS = {"dev": Environment(stack="dev", secret_config={"db:password": SECRET.get("secret_cfg", "cfg-secret")})}


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    @pulumi_stack(project="secrets", environments=ENVS, pulumi_command=ENGINE,
                  push_secret_outputs=PARAMS.get("push", False))
    def infra():
        from airflow_pulumi_decorators.testing.resources import LocalFile

        key = LocalFile("key", path=f"{FOLDER}/key.txt",
                        content=pulumi.Output.secret(SECRET.get("secret_file", "file")))
        pw = pulumi.Config("db").require_secret("password")
        return {"token": pulumi.Output.secret(SECRET.get("secret", "output")), "password": pw, "key": key.content,
                "db": {"host": "db.internal", "password": pulumi.Output.secret(SECRET.get("nested", "nested"))},
                "hosts": ["a", pulumi.Output.secret(SECRET.get("listed", "listed"))],
                "file": key,
                "plain": "visible"}

    @task
    def consume(token, db, plain):
        # Only what is safe to log: a task that logs a pushed secret leaks it (masks do not cross tasks).
        from airflow_pulumi_decorators.outputs import is_withheld_output

        return [is_withheld_output(token), is_withheld_output(db) or sorted(db), plain]

    out = infra()
    consume(out["token"], out["db"], out["plain"])


the_dag = d()
