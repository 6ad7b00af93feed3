"""One preview environment per pull request.

CI triggers this DAG with the branch and what happened to the pull request:
``{"branch": "feature/login", "action": "opened"}`` plans and deploys the branch's own stack
(``pr-feature-login``) and posts its URL; ``"action": "closed"`` destroys the stack and removes it.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_pulumi_decorators import Environment, pulumi_stack

ENVIRONMENTS = {
    "preview": Environment(
        stack="preview", config={"gcp:project": "acme-previews", "gcp:region": "europe-west1"}
    ),
}
BRANCH = "{{ params.branch }}"


@dag(
    dag_id="preview_environments",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"branch": "main", "action": "opened"},
    tags=["pulumi", "example"],
)
def preview_environments():
    @pulumi_stack(
        project="web-previews",
        environments=ENVIRONMENTS,
        environment="preview",
        stack="pr-{{ params.branch | stack_name }}",
    )
    def preview_env(branch: str):
        import pulumi
        import pulumi_gcp as gcp

        site = gcp.storage.Bucket(
            "site",
            location="EU",
            force_destroy=True,
            uniform_bucket_level_access=True,
            website={"main_page_suffix": "index.html", "not_found_page": "404.html"},
            labels={"purpose": "pr-preview"},
        )
        gcp.storage.BucketIAMMember("public-read", bucket=site.name, role="roles/storage.objectViewer",
                                    member="allUsers")
        sample = gcp.bigquery.Dataset(
            "sample",
            dataset_id=pulumi.get_stack().replace("-", "_"),
            location="EU",
            description=f"Sample data for {branch}",
            default_table_expiration_ms=7 * 24 * 3600 * 1000,
            delete_contents_on_destroy=True,
        )
        return {
            "site": pulumi.Output.concat("https://storage.googleapis.com/", site.name, "/index.html"),
            "dataset": sample.id,
        }

    @task.branch
    def route(action: str) -> str:
        return "preview_env_destroy" if action == "closed" else "preview_env_preview"

    @task
    def post_comment(branch: str, site: str, dataset: str) -> str:
        """The pull-request comment (a real DAG would post it through the Git host's API)."""
        comment = f"Preview of `{branch}`: {site} (sample data: `{dataset}`)"
        print(comment)
        return comment

    plan = preview_env.preview(branch=BRANCH)
    deployed = preview_env(branch=BRANCH)
    closed = preview_env.override(remove_stack=True).destroy(branch=BRANCH)
    route("{{ params.action }}") >> [plan, closed]
    plan >> deployed
    post_comment(BRANCH, deployed["site"], deployed["dataset"])


preview_environments_dag = preview_environments()
