"""The ``pulumi_target`` XCom the Pulumi view reads: the stack at engine start, then its resources and secret
output names — never an output value, never a credential of the backend URL."""

from __future__ import annotations

import json

from airflow_pulumi_decorators.outputs import StackOutput
from airflow_pulumi_decorators.publish.target import announce, complete
from tests.publish.test_publish import TI, request, result

RESOURCES = [{"type": "gcp:storage/bucket:Bucket", "name": "raw",
              "urn": "urn:pulumi:dev::infra::gcp:storage/bucket:Bucket::raw"}]


def test_announce_names_the_stack_and_the_backend_without_its_credentials():
    ti = TI()
    announce(request(backend="https://user:tok-5521@state.example.com/p?token=tok-5521"), environment="dev",
             context={"ti": ti})
    assert ti.pushed["pulumi_target"] == {
        "project": "infra", "stack": "acme/dev", "backend": "https://state.example.com/p", "environment": "dev",
        "operation": "up"}


def test_complete_lists_an_ups_resources_and_secret_output_names_but_no_value():
    ti = TI()
    outputs = {"url": StackOutput("https://x", False), "key": StackOutput("pem-7781", True)}
    pushed = complete(request(), result(outputs=outputs, resources=RESOURCES), environment="dev", context={"ti": ti})
    assert ti.pushed["pulumi_target"] == pushed
    assert pushed["resources"] == [{"type": "gcp:storage/bucket:Bucket", "name": "raw"}]
    assert pushed["secret_output_keys"] == ["key"]
    assert "pem-7781" not in json.dumps(pushed) and "https://x" not in json.dumps(pushed)


def test_a_destroy_leaves_no_resources_and_a_preview_tells_none():
    ti = TI()
    destroyed = complete(request("destroy"), result("destroy", stack_removed=True), environment="dev",
                         context={"ti": ti})
    assert destroyed["resources"] == [] and destroyed["stack_removed"] is True
    planned = complete(request("preview"), result("preview", resources=RESOURCES), environment="dev",
                       context={"ti": ti})
    assert planned["resources"] is None  # a plan is not the stack's state


def test_resources_are_listed_by_type_then_name_whatever_order_the_engine_announced():
    announced = [{"type": t, "name": n, "urn": f"urn:pulumi:dev::infra::{t}::{n}"}
                 for t, n in (("b:m:T", "z"), ("a:m:T", "y"), ("b:m:T", "a"))]
    pushed = complete(request(), result(resources=announced), environment="dev", context={"ti": TI()})
    assert [(r["type"], r["name"]) for r in pushed["resources"]] == [("a:m:T", "y"), ("b:m:T", "a"), ("b:m:T", "z")]
