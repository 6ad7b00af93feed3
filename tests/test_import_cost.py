"""DAG files are parsed constantly: importing the package (or a DAG using it) must stay light."""

import subprocess
import sys
import textwrap

HEAVY = ("pulumi", "pulumi_gcp", "grpc", "google.auth")

CHECK = textwrap.dedent(
    """
    import sys
    {body}
    heavy = sorted(m for m in sys.modules
                   if m.split(".")[0] in ("pulumi", "pulumi_gcp", "grpc")
                   or m == "google.auth" or m.startswith("google.auth."))
    print("HEAVY:" + ",".join(heavy))
    """
)


def _heavy_after(body: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(body=textwrap.dedent(body))],
        capture_output=True, text=True, check=True,
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("HEAVY:")][-1]
    return [m for m in line[len("HEAVY:"):].split(",") if m]


def test_importing_the_package_loads_no_heavy_module():
    assert _heavy_after("import airflow_pulumi_decorators") == []


def test_importing_the_public_api_loads_no_heavy_module():
    assert _heavy_after(
        "from airflow_pulumi_decorators import pulumi_stack, Environment, PulumiStackOperator\n"
        "import airflow_pulumi_decorators.identity, airflow_pulumi_decorators.testing"
    ) == []


def test_parsing_a_dag_file_that_uses_the_decorator_loads_no_heavy_module():
    assert _heavy_after(
        """
        import pendulum
        from airflow.sdk import dag, task
        from airflow_pulumi_decorators import pulumi_stack, Environment
        ENVS = {"dev": Environment(stack="dev", config={"gcp:project": "acme-dev"})}

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "dev"})
        def analytics():
            @pulumi_stack(project="analytics-infra", environments=ENVS, environment="{{ params.env }}")
            def storage(region: str):
                import pulumi_gcp as gcp
                bucket = gcp.storage.Bucket("raw", location=region)
                return {"bucket": bucket.name}

            @task
            def load(bucket: str):
                return bucket

            load(storage(region="EU")["bucket"])

        analytics()
        """
    ) == []


#: Our modules a DAG file that uses @pulumi_stack loads: the decorator, the operator and its parse-time checks
#: (a subpackage counts as one: ``publish`` is its link module, :mod:`airflow_pulumi_decorators.publish.links`,
#: and ``ui`` the address of the stack page that link names, :mod:`airflow_pulumi_decorators.ui.urls`).
#: A running task needs prepare, the engine, the CLI, the locks and the rest of publish; the parse does not.
PARSE_MODULES = {
    "airflow_pulumi_decorators",
    "airflow_pulumi_decorators._airflow",
    "airflow_pulumi_decorators.assets",
    "airflow_pulumi_decorators.backend_url",
    "airflow_pulumi_decorators.checks",
    "airflow_pulumi_decorators.connections",
    "airflow_pulumi_decorators.decorators",
    "airflow_pulumi_decorators.environments",
    "airflow_pulumi_decorators.errors",
    "airflow_pulumi_decorators.lifecycle",
    "airflow_pulumi_decorators.names",
    "airflow_pulumi_decorators.operations",
    "airflow_pulumi_decorators.operator",
    "airflow_pulumi_decorators.provider",
    "airflow_pulumi_decorators.publish",
    "airflow_pulumi_decorators.settings",
    "airflow_pulumi_decorators.ui",
}


def test_parsing_a_dag_file_loads_only_the_parse_time_modules_of_ours():
    body = textwrap.dedent(
        """
        import sys
        import pendulum
        from airflow.sdk import dag
        from airflow_pulumi_decorators import pulumi_stack, Environment, PulumiStackOperator

        ENVS = {"dev": Environment(stack="dev"), "prod": Environment(stack="prod", protected=True)}

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"env": "dev"})
        def analytics():
            @pulumi_stack(project="analytics-infra", environments=ENVS, environment="{{ params.env }}")
            def storage(region: str):
                return {"region": region}

            storage(region="EU")
            storage.preview(region="EU")
            storage.override(allow_destroy_protected=True).destroy(region="EU")
            PulumiStackOperator(task_id="direct", program=lambda: {}, project="other", stack="dev")

        analytics()
        print("OURS:" + ",".join(sorted({".".join(m.split(".")[:2]) for m in sys.modules
                                         if m.split(".")[0] == "airflow_pulumi_decorators"})))
        print("UI:" + ",".join(sorted(m for m in sys.modules if m.startswith("airflow_pulumi_decorators.ui"))))
        """
    )
    out = subprocess.run([sys.executable, "-c", body], capture_output=True, text=True, check=True).stdout
    loaded = set([x for x in out.splitlines() if x.startswith("OURS:")][-1][len("OURS:"):].split(","))
    assert not loaded & {f"airflow_pulumi_decorators.{m}" for m in ("engine", "cli", "locks", "outputs", "prepare")}
    assert loaded == PARSE_MODULES
    # Of the Pulumi view, only the address of its stack page: no app, no database reads.
    ui = [x for x in out.splitlines() if x.startswith("UI:")][-1][len("UI:"):].split(",")
    assert ui == ["airflow_pulumi_decorators.ui", "airflow_pulumi_decorators.ui.urls"]
