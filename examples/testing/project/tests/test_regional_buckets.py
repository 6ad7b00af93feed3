"""A stack task mapped over a list: one stack per item, each with its own state."""

from __future__ import annotations

from dags.regional_buckets import REGIONS, regional_buckets_dag


def test_each_region_gets_its_own_stack(apd_dag_runner):
    result = apd_dag_runner.run(regional_buckets_dag)

    assert result.state == "success", result.output[-3000:]
    assert result.xcom("collect") == ["acme-raw-asia", "acme-raw-eu", "acme-raw-us"]
    for region in REGIONS:  # three stacks of project `regional`, one bucket each
        [bucket] = result.resources("regional", region)
        assert bucket.inputs["name"] == f"acme-raw-{region}"
