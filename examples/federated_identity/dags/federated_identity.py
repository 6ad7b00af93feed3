"""Keyless credentials per environment: Workload Identity Federation, then impersonation.

The workers run outside Google Cloud and hold an OIDC token (a projected Kubernetes service-account
token). At task start it is exchanged with Google's STS through the federation configuration mounted
into the worker pods, and the federated identity then impersonates the environment's own deployer
service account. Only that short-lived token reaches the Pulumi engine; the task log names the deployer,
never the token. Set-up: docs/identity/workload-identity-federation.md and impersonation.md.

Trigger with ``{"env": "dev"}`` (the default) or ``{"env": "prod"}``.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack
from airflow_pulumi_decorators.identity import ServiceAccountImpersonation, WorkloadIdentityFederation

# Where the worker pods mount the federation configuration (`gcloud iam workload-identity-pools
# create-cred-config ...`); it names the token file and the pool provider, and holds no secret.
FEDERATION = WorkloadIdentityFederation(
    credential_config_file=os.environ.get("GCP_WIF_CONFIG", "/etc/gcp/wif-config.json")
)
# The IAM Credentials endpoint; set GCP_IAM_ENDPOINT to use a Private Service Connect endpoint.
IAM_ENDPOINT = os.environ.get("GCP_IAM_ENDPOINT", "https://iamcredentials.googleapis.com")

ENVIRONMENTS = {
    "dev": Environment(
        stack="dev",
        config={"gcp:project": "acme-dev", "gcp:region": "europe-west1"},
        identity=ServiceAccountImpersonation(
            "pulumi-deployer@acme-dev.iam.gserviceaccount.com", source=FEDERATION, iam_endpoint=IAM_ENDPOINT
        ),
    ),
    "prod": Environment(
        stack="prod",
        config={"gcp:project": "acme-prod", "gcp:region": "europe-west1"},
        identity=ServiceAccountImpersonation(
            "pulumi-deployer@acme-prod.iam.gserviceaccount.com",
            source=FEDERATION,
            iam_endpoint=IAM_ENDPOINT,
            # Over 1 h needs the org policy constraints/iam.allowServiceAccountCredentialLifetimeExtension.
            lifetime=timedelta(hours=2),
        ),
        protected=True,
    ),
}


@dag(
    dag_id="federated_identity",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"env": "dev"},
    tags=["pulumi", "example"],
)
def federated_identity():
    @pulumi_stack(
        project="reports",
        environments=ENVIRONMENTS,
        environment="{{ params.env }}",
        execution_timeout=timedelta(minutes=30),  # the token must outlive it (checked at task start)
    )
    def reports(team: str):
        import pulumi_gcp as gcp

        bucket = gcp.storage.Bucket("reports", location="EU", uniform_bucket_level_access=True)
        publisher = gcp.serviceaccount.Account("publisher", display_name=f"{team} report publisher")
        gcp.storage.BucketIAMMember(
            "publisher-writes", bucket=bucket.name, role="roles/storage.objectCreator", member=publisher.member
        )
        return {"bucket": bucket.url, "publisher": publisher.email}

    @task
    def publish(bucket: str, publisher: str, ds: str | None = None) -> str:
        target = f"{bucket}/daily/{ds}.csv"
        print(f"publishing to {target} as {publisher}")
        return target

    infra = reports(team="finance")
    publish(infra["bucket"], infra["publisher"])


federated_identity_dag = federated_identity()
