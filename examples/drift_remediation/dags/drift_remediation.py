"""Drift → approval → remediation: an hourly drift check publishes what it found as an asset event; a
remediation DAG scheduled on that asset runs when a check found drift, shows the approver what would be set
back (the property diff, in the approval body) and, once approved, applies the program again over the
refreshed state.

Three DAGs share one program: ``lake_deploy`` (manual), ``lake_drift_watch`` (hourly
``drift_check(fail_on_drift=False)``: it succeeds and emits ``pulumi-drift://lake/prod`` with ``"drift":
true|false`` in the event's extra) and ``lake_remediation`` (scheduled on that asset).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.assets import drift_asset

ENVIRONMENTS = {
    "prod": Environment(stack="prod", config={"gcp:project": "acme-lake-prod"}, protected=True),
}
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@pulumi_stack(project="lake", environments=ENVIRONMENTS, environment="prod")
def lake():
    import pulumi_gcp as gcp

    exports = gcp.storage.Bucket(
        "exports",
        location="EU",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
    )
    return {"exports": exports.url}


@dag(dag_id="lake_deploy", schedule=None, start_date=START, catchup=False, tags=["pulumi", "example"])
def lake_deploy():
    lake()


@dag(dag_id="lake_drift_watch", schedule="@hourly", start_date=START, catchup=False, tags=["pulumi", "example"])
def lake_drift_watch():
    # Succeeds either way: the drift goes to the XCom and to the drift event that schedules lake_remediation.
    lake.drift_check(fail_on_drift=False)


@dag(dag_id="lake_remediation", schedule=[drift_asset("lake", "prod")], start_date=START, catchup=False,
     params={"remediate": False}, tags=["pulumi", "example"])
def lake_remediation():
    @task.short_circuit
    def drifted(triggering_asset_events=None, params=None) -> bool:
        """Go on only when the check that triggered this run found drift (or when asked to by hand)."""
        events = [e for found in (triggering_asset_events or {}).values() for e in found]
        for event in events:
            print(f"drift check: drift={event.extra['drift']} changes={event.extra['changes']} "
                  f"resources={[r['name'] for r in event.extra['resources']]}")
        return any(e.extra.get("drift") for e in events) or bool((params or {}).get("remediate"))

    # Preview over the refreshed state (what the up would set back) → approval → up, refreshing first.
    drifted() >> lake.override(refresh=True).with_approval(approval={"subject": "Set lake prod back to its program?"})


lake_deploy_dag = lake_deploy()
lake_drift_watch_dag = lake_drift_watch()
lake_remediation_dag = lake_remediation()
