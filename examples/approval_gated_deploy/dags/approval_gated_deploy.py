"""A release that needs a human before it reaches production.

The image goes to staging, a smoke test checks it, then production is planned (``preview``, which writes
nothing) and the plan waits for approval in Airflow's *Required actions* (Human-in-the-loop). "Approve"
deploys exactly this program to prod; "Reject" skips the deploy and the announcement.

Trigger with ``{"image": "europe-docker.pkg.dev/acme/payments/api:1.4.2"}``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.approvals import approval_gate

ENVIRONMENTS = {
    "staging": Environment(stack="staging", config={"gcp:project": "acme-pay-stg", "gcp:region": "europe-west1"}),
    "prod": Environment(
        stack="prod", config={"gcp:project": "acme-pay-prod", "gcp:region": "europe-west1"}, protected=True
    ),
}
IMAGE = "{{ params.image }}"
#: Who may answer the approval: Airflow *users*, one entry per person — not a group or a role. Airflow checks
#: the responding user's id against these ids; anyone else, an Admin included, gets "Access Denied". The id is
#: the user name with the simple auth manager (``[core] simple_auth_manager_users = alice:user,...``) and the
#: user's id as the auth manager returns it with FAB (see docs/approvals-and-policy.md). To let everyone who
#: may edit this DAG answer instead, leave ``assigned_users`` out and restrict the DAG's permissions.
RELEASE_MANAGERS = [{"id": "alice", "name": "Alice (release manager)"}, {"id": "bob", "name": "Bob (release manager)"}]


@pulumi_stack(project="payments-api", environments=ENVIRONMENTS)
def payments_api(image: str):
    import pulumi
    import pulumi_gcp as gcp

    region = pulumi.Config("gcp").require("region")
    runtime = gcp.serviceaccount.Account("api-runtime", display_name="payments API runtime")
    service = gcp.cloudrunv2.Service(
        "api",
        location=region,
        ingress="INGRESS_TRAFFIC_ALL",
        template={
            "service_account": runtime.email,
            "containers": [{"image": image, "ports": {"container_port": 8080}}],
            "scaling": {"min_instance_count": 1, "max_instance_count": 10},
        },
    )
    return {"url": service.uri, "runtime": runtime.email}


@dag(
    dag_id="payments_release",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"image": "europe-docker.pkg.dev/acme/payments/api:latest"},
    tags=["pulumi", "example"],
)
def payments_release():
    @task
    def smoke_test(url: str) -> str:
        """Gate on staging (a real check would call ``{url}/healthz``)."""
        if not url.startswith("https://"):
            raise ValueError(f"staging is not serving over HTTPS: {url}")
        return url

    @task
    def announce(url: str, image: str) -> str:
        message = f"payments API {image} is live at {url}"
        print(message)
        return message

    staging = payments_api.override(task_id="staging", environment="staging")(image=IMAGE)
    checked = smoke_test(staging["url"])

    prod = payments_api.override(task_id="prod", environment="prod")
    plan = prod.preview(image=IMAGE)
    checked >> plan
    gate = approval_gate(
        plan,
        subject="Release the payments API to production?",
        assigned_users=RELEASE_MANAGERS,
    )
    released = prod(image=IMAGE)
    gate >> released
    announce(released["url"], IMAGE)


payments_release_dag = payments_release()
