"""A ``@pulumi_stack`` task mapped over three regions (one stack per map index), and a task collecting them."""

from airflow.sdk import dag, task
from dist_common import START, engines

from airflow_pulumi_decorators import pulumi_stack

REGIONS = ["eu", "us", "asia"]


def build(engine: str, cli: str):

    @dag(dag_id=f"mapped__{engine}", schedule=None, start_date=START)
    def mapped():
        @pulumi_stack(project=f"mapped_{engine}", stack="r{{ ti.map_index }}", cli_path=cli)
        def regional(region: str):
            from airflow_pulumi_decorators.testing.resources import FakeName

            return {"region": region, "bucket": FakeName("bucket", prefix=f"raw-{region}", length=1).name}

        @task
        def collect(buckets: list[str]) -> list[str]:
            return sorted(buckets)

        collect(regional.expand(region=REGIONS).map(lambda outputs: outputs["bucket"]))

    return mapped()


for _engine, _cli in engines().items():
    build(_engine, _cli)
