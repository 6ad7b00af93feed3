"""Secret outputs handed downstream as references (``secret_outputs="reference"``, ``test_secret_refs.py``).

The stack returns a ``pulumi.Output.secret``, a secret config value and a dict with a secret inside it; a
TaskFlow consumer, a classic operator's templated field and a mapped consumer read them. Each prints the value
(its log must show ``***``) and returns only a digest of it, so the test can check it got the right value
without the value itself ever being an XCom. The secret values come from the parameters, never this file's text
(Airflow stores a DAG file's source in its database).
"""

import hashlib
import logging

import pendulum
import pulumi
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack, resolve_secret_output
from tests.integration.dags.dagparams import dag_params, pulumi_command

PARAMS = dag_params(__file__)
log = logging.getLogger("airflow.task")
ENGINE = pulumi_command(PARAMS)
SECRET = PARAMS.get("secrets", {})
CONN = PARAMS.get("pulumi_conn_id")
ENVS = {"dev": Environment(stack="dev", secret_config={"db:password": SECRET.get("secret_cfg", "s3cr3t-cfg")},
                           pulumi_conn_id=CONN)}


def digest(value):
    return hashlib.sha256(str(value).encode()).hexdigest()[:16]


@dag(dag_id=PARAMS["dag_id"], schedule=None, start_date=pendulum.datetime(2026, 1, 1))
def d():
    push = PARAMS.get("push", False)  # the deprecated way, for comparison
    @pulumi_stack(project="secretrefs", environments=ENVS, pulumi_command=ENGINE,
                  secret_outputs="withhold" if push else "reference", push_secret_outputs=push)
    def infra():
        if PARAMS.get("not_secret"):
            return {"token": "plain-now", "plain": "visible"}
        pw = pulumi.Config("db").require_secret("password")
        out = {"token": pulumi.Output.secret(SECRET.get("secret", "s3cr3t-token")), "password": pw,
               "db": {"host": "db.internal", "password": pulumi.Output.secret(SECRET.get("nested", "s3cr3t-nest"))},
               "plain": "visible"}
        return {k: v for k, v in out.items() if k not in PARAMS.get("drop", [])}

    out = infra()

    if PARAMS.get("explicit"):
        # No XCom backend: the consumer resolves the reference itself.
        @task
        def explicit(token_ref):
            token = resolve_secret_output(token_ref, pulumi_command=ENGINE)
            log.info("connecting as app_user with token %s", token)
            return {"ref_project": token_ref["project"], "token": digest(token)}

        explicit(out["token"])
        return

    @task
    def load(token, password, db, plain):
        log.info("connecting as app_user with token %s and password %s", token, password)
        log.info("db password %s on host %s", db["password"], db["host"])
        return {"token": digest(token), "password": digest(password), "db_password": digest(db["password"]),
                "db_host": db["host"], "plain": plain}

    @task
    def mapped(token, n):
        log.info("instance %s uses token %s", n, token)
        return {"n": n, "token": digest(token)}

    load(out["token"], out["password"], out["db"], out["plain"])
    mapped.partial(token=out["token"]).expand(n=[1, 2])
    BashOperator(
        task_id="classic",
        bash_command="echo \"classic sees {{ ti.xcom_pull(task_ids='infra', key='token') }}\"; "
                     "printf %s \"{{ ti.xcom_pull(task_ids='infra', key='token') }}\" | sha256sum | cut -c1-16 "
                     "| sed 's/^/classic digest /'",
        do_xcom_push=False,  # its last line would be its own XCom
    ).set_upstream(out)


the_dag = d()
