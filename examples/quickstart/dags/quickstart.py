"""Quickstart: a stack per environment, and a task that uses its outputs.

Runs with no cloud credentials: ``pulumi_random`` resources live only in Pulumi's state.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack

ENVIRONMENTS = {
    "dev": Environment(stack="dev", config={"quickstart:prefix": "dev"}),
    "staging": Environment(stack="staging", config={"quickstart:prefix": "stg"}),
}


@dag(
    dag_id="quickstart",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"env": "dev"},
    tags=["pulumi", "quickstart"],
)
def quickstart():
    @pulumi_stack(project="quickstart", environments=ENVIRONMENTS, environment="{{ params.env }}")
    def dataset(words: int):
        import pulumi
        import pulumi_random as random

        prefix = pulumi.Config().require("prefix")
        name = random.RandomPet("dataset", length=words, prefix=prefix, separator="_")
        return {"dataset": name.id, "words": words}

    @task
    def load(dataset: str, words: int) -> str:
        message = f"loading into dataset {dataset} ({words} words)"
        print(message)
        return message

    infra = dataset(words=2)
    load(infra["dataset"], infra["words"])


quickstart_dag = quickstart()
