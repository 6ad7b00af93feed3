"""The light path: a ``@pulumi_stack`` program alone on Pulumi's mocks (:mod:`airflow_pulumi_decorators.testing.mocks`),
with real provider SDKs (pulumi_gcp, pulumi_random)."""

from __future__ import annotations

import time

import pytest

from airflow_pulumi_decorators.testing.mocks import run_program


def storage(region: str, retention_days: int = 7):
    """A program as a DAG author writes it: config, a provider function, a computed name, a secret."""
    import pulumi
    import pulumi_gcp as gcp
    import pulumi_random as random

    config = pulumi.Config()
    project = gcp.organizations.get_project()
    suffix = random.RandomPet("suffix", length=2)
    bucket = gcp.storage.Bucket(
        "raw",
        name=suffix.id.apply(lambda pet: f"raw-{pulumi.get_stack()}-{pet}"),
        location=region,
        lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": retention_days}}],
        labels={"team": config.require("team")},
    )
    gcp.storage.BucketIAMMember(
        "readers", bucket=bucket.name, role="roles/storage.objectViewer", member="group:analysts@acme.test"
    )
    return {
        "bucket": bucket.name,
        "url": bucket.url,
        "project_number": project.number,
        "token": pulumi.Output.secret(config.require("api-token")),
    }


CONFIG = {"gcp:project": "acme-dev", "team": "data", "api-token": "s3cr3t-value"}
COMPUTED = {
    "random:index/randomPet:RandomPet": {"id": "happy-otter"},
    "gcp:storage/bucket:Bucket": {"url": "gs://computed-by-the-mock"},
}
INVOKES = {"gcp:organizations/getProject:getProject": {"number": "123456789", "projectId": "acme-dev"}}


def test_resources_inputs_and_outputs_are_recorded():
    run = run_program(storage, "EU", retention_days=30, config=CONFIG, secret_config=["api-token"],
                      outputs=COMPUTED, invokes=INVOKES, stack="dev")

    assert [(r.type, r.name) for r in run.resources] == [
        ("random:index/randomPet:RandomPet", "suffix"),
        ("gcp:storage/bucket:Bucket", "raw"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "readers"),
    ]
    bucket = run.resource("raw")
    assert bucket.inputs["location"] == "EU"
    assert bucket.inputs["name"] == "raw-dev-happy-otter"  # built from the random pet's computed id
    assert bucket.inputs["labels"] == {"team": "data"}
    assert bucket.inputs["lifecycleRules"][0]["condition"]["age"] == 30
    assert bucket.outputs["url"] == "gs://computed-by-the-mock" and bucket.id == "raw-id"
    assert run.resource("readers").inputs["bucket"] == "raw-dev-happy-otter"
    assert [i.token for i in run.invokes] == ["gcp:organizations/getProject:getProject"]

    assert run.outputs == {
        "bucket": "raw-dev-happy-otter",
        "url": "gs://computed-by-the-mock",
        "project_number": "123456789",
        "token": "s3cr3t-value",
    }
    assert run.secret_outputs == {"token"}


def test_runs_are_isolated_and_fast():
    first = run_program(storage, "EU", config=CONFIG, outputs=COMPUTED, invokes=INVOKES, stack="dev")
    started = time.perf_counter()
    second = run_program(storage, "US", config={**CONFIG, "team": "ml"}, outputs=COMPUTED, invokes=INVOKES,
                         project="other", stack="prod")
    elapsed = time.perf_counter() - started
    assert len(second.resources) == len(first.resources) == 3  # nothing carried over from the first run
    assert second.outputs["bucket"] == "raw-prod-happy-otter"
    assert second.resource("raw").inputs["labels"] == {"team": "ml"}
    assert first.resource("raw").inputs["location"] == "EU"
    assert elapsed < 5, f"a mocked program run took {elapsed:.2f}s"


def test_missing_config_fails_as_in_a_real_run():
    import pulumi

    with pytest.raises(pulumi.ConfigMissingError, match="team"):
        run_program(storage, "EU", config={"gcp:project": "acme-dev"}, outputs=COMPUTED, invokes=INVOKES)


def test_a_decorated_task_runs_its_program_and_a_bad_return_is_a_type_error():
    from airflow_pulumi_decorators import pulumi_stack

    @pulumi_stack(project="names", stack="dev")
    def names(prefix: str):
        import pulumi_random as random

        return {"name": random.RandomPet("pet", prefix=prefix).id}

    run = run_program(names, "raw", outputs={"random:index/randomPet:RandomPet": {"id": "raw-calm-ibex"}})
    assert run.outputs == {"name": "raw-calm-ibex"}
    assert run.resource("pet").inputs["prefix"] == "raw"

    with pytest.raises(TypeError, match="must return a dict of stack outputs or None, got list"):
        run_program(lambda: ["not", "a", "dict"])


def test_unknown_resource_name_lists_what_was_declared():
    run = run_program(storage, "EU", config=CONFIG, outputs=COMPUTED, invokes=INVOKES)
    with pytest.raises(KeyError, match=r"declared: suffix \(random:index/randomPet:RandomPet\), raw"):
        run.resource("missing")
