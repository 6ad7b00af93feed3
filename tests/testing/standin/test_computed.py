"""Provider-computed outputs on the stand-in: what ``computed.compute`` fills in, and the Automation API
seeing it (the README's bucket chain, no changes on a second ``up``, unknown during a preview)."""

from __future__ import annotations

import json
import re

import pulumi
from pulumi import automation as auto

from airflow_pulumi_decorators.testing.standin.computed import autoname, compute, resource_class
from airflow_pulumi_decorators.testing.standin.engine import make_urn

BUCKET = "gcp:storage/bucket:Bucket"
ACCOUNT = "gcp:serviceaccount/account:Account"
CONFIG = {"gcp:project": "acme-dev", "gcp:region": "europe-west1"}


def _urn(type_: str, name: str, stack: str = "dev") -> str:
    return make_urn(stack, "proj", "", type_, name)


def test_resource_class_is_found_from_the_type_token():
    import pulumi_gcp
    import pulumi_random

    assert resource_class(BUCKET) is pulumi_gcp.storage.Bucket
    assert resource_class("random:index/randomPet:RandomPet") is pulumi_random.RandomPet
    assert resource_class("nosuchpkg:index:Thing") is None
    assert resource_class("pulumi:providers:gcp") is None


def test_bucket_without_a_name_is_auto_named_and_gets_its_url():
    urn = _urn(BUCKET, "raw")
    made = compute(BUCKET, "raw", urn, {"location": "EU"}, CONFIG)
    name = made.outputs["name"]
    assert re.fullmatch(r"raw-[0-9a-f]{7}", name) and name == autoname("raw", urn)
    assert made.outputs["url"] == f"gs://{name}"
    assert made.outputs["selfLink"] == f"https://www.googleapis.com/storage/v1/b/{name}"
    assert made.id == name
    assert made.outputs["project"] == "acme-dev"
    # right types for what the SDK declares; optional inputs the program left out stay unset
    assert isinstance(made.outputs["projectNumber"], int) and made.outputs["uniformBucketLevelAccess"] is False
    assert made.outputs["effectiveLabels"] == {"goog-pulumi-provisioned": "true"}
    assert made.outputs["timeCreated"].startswith("2026-")
    assert "location" not in made.outputs and "enableObjectRetention" not in made.outputs
    assert "requesterPays" not in made.outputs


def test_values_are_stable_per_stack_and_differ_between_stacks():
    dev = compute(BUCKET, "raw", _urn(BUCKET, "raw"), {"location": "EU"}, CONFIG)
    again = compute(BUCKET, "raw", _urn(BUCKET, "raw"), {"location": "EU"}, CONFIG)
    prod = compute(BUCKET, "raw", _urn(BUCKET, "raw", stack="prod"), {"location": "EU"}, CONFIG)
    assert dev == again
    assert dev.outputs["name"] != prod.outputs["name"]


def test_what_the_program_set_wins():
    made = compute(BUCKET, "raw", _urn(BUCKET, "raw"), {"location": "EU", "name": "acme-raw", "project": "p1"}, CONFIG)
    assert "name" not in made.outputs and "project" not in made.outputs
    assert made.outputs["url"] == "gs://acme-raw" and made.id == "acme-raw"


def test_service_account_email_and_member():
    made = compute(ACCOUNT, "loader", _urn(ACCOUNT, "loader"), {"displayName": "Loader"}, CONFIG)
    account_id = made.outputs["accountId"]
    assert re.fullmatch(r"loader-[0-9a-f]{7}", account_id)
    email = f"{account_id}@acme-dev.iam.gserviceaccount.com"
    assert made.outputs["email"] == email and made.outputs["member"] == f"serviceAccount:{email}"
    assert made.id == made.outputs["name"] == f"projects/acme-dev/serviceAccounts/{email}"


def test_without_provider_config_the_values_say_they_are_fake():
    made = compute(ACCOUNT, "loader", _urn(ACCOUNT, "loader"), {}, {})
    assert made.outputs["project"] == "fake-project"
    assert made.outputs["email"].endswith("@fake-project.iam.gserviceaccount.com")


def test_unknown_packages_and_engine_types_get_nothing():
    assert compute("nosuchpkg:index:Thing", "t", _urn("nosuchpkg:index:Thing", "t"), {}, {}).outputs == {}
    assert compute("pulumi:providers:gcp", "default", _urn("pulumi:providers:gcp", "default"), {}, {}).outputs == {}


# -- through the Automation API ------------------------------------------------------------------------


def readme_program() -> None:
    import pulumi_gcp as gcp

    bucket = gcp.storage.Bucket("raw", location="EU")
    pulumi.export("bucket", bucket.name)
    pulumi.export("url", bucket.url)


def test_readme_bucket_outputs_resolve_and_a_second_up_changes_nothing(make_stack, backend):
    stack = make_stack(readme_program)
    stack.set_config("gcp:project", auto.ConfigValue("acme-dev"))
    first = stack.up()
    bucket, url = first.outputs["bucket"].value, first.outputs["url"].value
    assert re.fullmatch(r"raw-[0-9a-f]{7}", bucket) and url == f"gs://{bucket}"
    second = stack.up()
    assert second.summary.resource_changes == {"same": 2}
    assert second.outputs["url"].value == url
    assert stack.preview().change_summary == {"same": 2}
    state = json.loads((backend / ".pulumi" / "stacks" / "proj" / "dev.json").read_text())
    [made] = [r for r in state["checkpoint"]["latest"]["resources"] if r["type"] == BUCKET]
    assert made["id"] == bucket and made["inputs"] == {"location": "EU"}  # computed values are outputs only


def test_a_preview_leaves_computed_values_unknown(make_stack):
    seen: list[object] = []

    def program() -> None:
        import pulumi_gcp as gcp

        bucket = gcp.storage.Bucket("raw", location="EU")
        bucket.url.apply(seen.append)
        bucket.location.apply(seen.append)

    make_stack(program).preview()
    assert seen == ["EU"]  # the url is unknown until the bucket exists, so its apply never ran


def test_values_built_from_a_secret_input_stay_secret(make_stack):
    def program() -> None:
        import pulumi_gcp as gcp

        bucket = gcp.storage.Bucket("raw", location="EU", name=pulumi.Output.secret("hidden-bucket-name"))
        pulumi.export("url", bucket.url)

    up = make_stack(program).up()
    assert up.outputs["url"].secret and up.outputs["url"].value == "gs://hidden-bucket-name"


def test_a_preview_of_an_update_does_not_build_values_from_unknown_inputs(make_stack):
    seen: list[object] = []

    def first() -> None:
        import pulumi_gcp as gcp

        gcp.storage.Bucket("raw", location="EU", name="acme-raw")

    def renamed() -> None:
        import pulumi_gcp as gcp
        import pulumi_random as random

        pet = random.RandomPet("suffix")  # new: its id is unknown during the preview
        bucket = gcp.storage.Bucket("raw", location="EU", name=pet.id)
        bucket.url.apply(seen.append)

    stack = make_stack(first)
    stack.up()
    stack.workspace.program = renamed
    assert stack.preview().change_summary == {"create": 1, "update": 1, "same": 1}
    assert seen == []  # not "gs://<unknown sentinel>"


def test_random_string_gets_the_providers_defaults():
    type_ = "random:index/randomString:RandomString"
    made = compute(type_, "s", _urn(type_, "s"), {"length": 12}, {})
    assert len(made.outputs["result"]) == 12
    assert made.outputs["special"] is True and made.outputs["minUpper"] == 0
