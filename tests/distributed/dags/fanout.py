"""Fan-out: eight stacks deployed at once (wherever Celery puts them), then one task collects their outputs."""

from airflow.sdk import dag, task
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack

STACKS = 8


def build(engine: str, cli: str):

    @dag(dag_id=f"fanout__{engine}", schedule=None, start_date=START, max_active_tasks=STACKS + 1)
    def fanout():
        names = []
        for i in range(STACKS):

            @pulumi_stack(project=f"fanout_{engine}", stack=f"s{i}", cli_path=cli, task_id=f"deploy_{i}")
            def deploy(index: int):
                from airflow_pulumi_decorators.testing.resources import FakeName

                return {"index": index, "name": FakeName("name", prefix=f"t{index}", length=2).name}

            names.append(deploy(i)["name"])

        @task
        def collect(names: list[str]) -> list[str]:
            return sorted(names)

        collect(names)

    return fanout()


for _engine, _cli in engines().items():
    build(_engine, _cli)
