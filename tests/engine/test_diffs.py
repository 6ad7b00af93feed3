"""Property diffs of a step (:mod:`airflow_pulumi_decorators.engine.diffs`) and how the event collector
(:class:`~airflow_pulumi_decorators.engine.events.Observer`) attaches them to the steps. The same diffs from
the real CLI and the stand-in are compared in ``tests/integration/test_differential.py``."""

from __future__ import annotations

from types import SimpleNamespace

from pulumi.automation.events import EngineEvent

from airflow_pulumi_decorators.engine.diffs import MAX_ENTRIES, MAX_VALUE_CHARS, SECRET_SIG, UNKNOWN, show, step_diff
from airflow_pulumi_decorators.engine.events import Observer
from airflow_pulumi_decorators.publish.diffs import diff_lines

#: A secret as the CLI writes it into engine events: blinded, its value gone.
BLINDED = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "[secret]"}


def _meta(old=None, new=None, keys=None, detailed=None, old_outputs=None, new_outputs=None):
    state = lambda inputs, outputs: None if inputs is None and outputs is None else SimpleNamespace(  # noqa: E731
        inputs=inputs or {}, outputs=outputs or {})
    return SimpleNamespace(old=state(old, old_outputs), new=state(new, new_outputs), keys=keys,
                           detailed_diff=detailed or {})


def test_update_lists_changed_string_number_nested_and_list_values_old_and_new():
    old = {"image": "api:1.4.2", "replicas": 2, "scaling": {"max": 3, "cpu": {"target": 60}}, "members": ["a", "b"],
           "same": "x", "__provider": "pickled"}
    new = {"image": "api:1.5.0", "replicas": 3, "scaling": {"max": 5, "cpu": {"target": 60}},
           "members": ["a", "c", "d"], "same": "x", "__provider": "pickled-other"}
    diff = step_diff(_meta(old, new))
    assert diff == {"replace_keys": [], "diff": [
        {"path": "image", "kind": "update", "old": '"api:1.4.2"', "new": '"api:1.5.0"'},
        {"path": "members[1]", "kind": "update", "old": '"b"', "new": '"c"'},
        {"path": "members[2]", "kind": "add", "new": '"d"'},
        {"path": "replicas", "kind": "update", "old": "2", "new": "3"},
        {"path": "scaling.max", "kind": "update", "old": "3", "new": "5"},
    ]}


def test_replace_keys_are_named_and_mark_the_properties_that_force_them():
    diff = step_diff(_meta({"region": "eu", "image": "a"}, {"region": "us", "image": "b"}, keys=["region"]))
    assert diff["replace_keys"] == ["region"]
    assert diff["diff"] == [{"path": "image", "kind": "update", "old": '"a"', "new": '"b"'},
                            {"path": "region", "kind": "update", "old": '"eu"', "new": '"us"', "replace": True}]


def test_create_adds_and_delete_removes_every_property():
    assert step_diff(_meta(None, {"a": 1, "b": {"c": [True]}}))["diff"] == [
        {"path": "a", "kind": "add", "new": "1"}, {"path": "b.c[0]", "kind": "add", "new": "true"}]
    assert step_diff(_meta({"a": "x"}, None))["diff"] == [{"path": "a", "kind": "delete", "old": '"x"'}]


def test_secrets_show_as_secret_and_unknowns_as_unknown():
    diff = step_diff(_meta({"password": BLINDED, "list": [BLINDED]}, {"password": "now-plain", "list": [BLINDED, 1],
                                                                     "id": UNKNOWN}))
    assert diff["diff"] == [
        {"path": "id", "kind": "add", "new": "[unknown]"},
        {"path": "list[1]", "kind": "add", "new": "1"},
        {"path": "password", "kind": "update", "old": "[secret]", "new": '"now-plain"'},
    ]
    # Two blinded secrets look the same; without a provider's detailed diff no change is claimed.
    assert step_diff(_meta({"p": BLINDED}, {"p": BLINDED}))["diff"] == []
    assert show({"nested": {"token": BLINDED}}) == '{"nested": {"token": "[secret]"}}'


def test_detailed_diff_of_a_provider_names_paths_kinds_and_replacements():
    kind = lambda k, inputs=True: SimpleNamespace(diff_kind=SimpleNamespace(value=k), input_diff=inputs)  # noqa: E731
    meta = _meta({"labels": {"team": "a"}, "location": "EU", "password": BLINDED},
                 {"labels": {"team": "b", "env": "prod"}, "location": "US", "password": BLINDED},
                 detailed={"labels.team": kind("update"), 'labels["env"]': kind("add"),
                           "location": kind("update-replace"), "password": kind("update"),
                           "__defaults": kind("update")})
    diff = step_diff(meta)
    assert diff["replace_keys"] == ["location"]
    assert diff["diff"] == [
        {"path": "labels.team", "kind": "update", "old": '"a"', "new": '"b"'},
        {"path": 'labels["env"]', "kind": "add", "new": '"prod"'},
        {"path": "location", "kind": "update", "old": '"EU"', "new": '"US"', "replace": True},
        {"path": "password", "kind": "update", "old": "[secret]", "new": "[secret]"},
    ]


def test_long_values_are_cut_with_a_marker_and_long_diffs_counted():
    long = "x" * (MAX_VALUE_CHARS + 50)
    (entry,) = step_diff(_meta({"a": "short"}, {"a": long}))["diff"]
    assert entry["new"] == '"' + "x" * (MAX_VALUE_CHARS - 1) + "…(+52 chars)"
    many = step_diff(_meta(None, {f"k{i:03}": i for i in range(MAX_ENTRIES + 7)}))
    assert len(many["diff"]) == MAX_ENTRIES and many["diff_omitted"] == 7


def _event(kind: str, op: str, urn: str, old=None, new=None, keys=None) -> EngineEvent:
    state = lambda props: None if props is None else {  # noqa: E731
        "type": "t:m:R", "urn": urn, "custom": True, "inputs": props, "outputs": props}
    return EngineEvent.from_json({"sequence": 1, "timestamp": 1, kind: {"planning": True, "metadata": {
        "op": op, "urn": urn, "type": "t:m:R", "old": state(old), "new": state(new), "keys": keys}}})


def test_observer_keeps_one_replace_step_with_its_keys_and_reads_refresh_outputs():
    observer = Observer(lambda _line: None)
    urn = "urn:pulumi:dev::p::t:m:R::svc"
    for kind in ("resourcePreEvent", "resOutputsEvent"):
        for op in ("create-replacement", "replace", "delete-replaced"):
            new = {"region": "us"} if op != "delete-replaced" else None
            observer.event(_event(kind, op, urn, {"region": "eu"}, new, keys=["region"]))
    drifted = "urn:pulumi:dev::p::t:m:R::conf"
    observer.event(_event("resourcePreEvent", "refresh", drifted, {"content": "one"}, {"content": "one"}))
    outputs = EngineEvent.from_json({"sequence": 2, "timestamp": 1, "resOutputsEvent": {"metadata": {
        "op": "update", "urn": drifted, "type": "t:m:R",
        "old": {"type": "t:m:R", "urn": drifted, "inputs": {"content": "one"}, "outputs": {"content": "one"}},
        "new": {"type": "t:m:R", "urn": drifted, "inputs": {"content": "one"}, "outputs": {"content": "edited"}}}}})
    observer.event(outputs)
    assert [(s["op"], s["name"], s["replace_keys"], s["diff"]) for s in observer.steps] == [
        ("replace", "svc", ["region"], [{"path": "region", "kind": "update", "old": '"eu"', "new": '"us"',
                                         "replace": True}]),
        ("update", "conf", [], [{"path": "content", "kind": "update", "old": '"one"', "new": '"edited"'}]),
    ]


def test_log_block_reads_like_pulumi_preview_diff():
    steps = [{"op": "replace", "type": "t:m:R", "name": "svc", "replace_keys": ["region"],
              "diff": [{"path": "region", "kind": "update", "old": '"eu"', "new": '"us"', "replace": True}]},
             {"op": "delete", "type": "t:m:R", "name": "old", "replace_keys": [],
              "diff": [{"path": "a", "kind": "delete", "old": "1"}], "diff_omitted": 3}]
    assert diff_lines(steps) == [
        "  +- t:m:R svc replace (forced by region)",
        '      ~ region: "eu" => "us"  [forces replacement]',
        "  - t:m:R old delete",
        "      - a: 1",
        "      … 3 more changes",
    ]


def test_an_update_with_unchanged_inputs_shows_the_drifted_outputs_it_sets_back():
    meta = _meta({"content": "one", "path": "/f"}, {"content": "one", "path": "/f"},
                 old_outputs={"content": "edited", "path": "/f", "size": 6})
    assert step_diff(meta)["diff"] == [{"path": "content", "kind": "update", "old": '"edited"', "new": '"one"'}]


def test_observer_lists_the_resources_an_update_kept_or_made_without_the_deleted_providers_or_root():
    observer = Observer(lambda _line: None)
    root = "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"
    provider = "urn:pulumi:dev::p::pulumi:providers:random::default"
    kept, made, replaced, gone = (f"urn:pulumi:dev::p::t:m:R::{n}" for n in ("kept", "made", "svc", "old"))
    for op, urn in (("create", root), ("same", provider), ("same", kept), ("same", gone), ("create", made),
                    ("create-replacement", replaced), ("replace", replaced), ("delete-replaced", replaced),
                    ("delete", gone)):
        meta = _event("resourcePreEvent", op, urn, {"a": 1}, {"a": 2}).resource_pre_event.metadata
        meta.type = urn.split("::")[2]
        observer.event(SimpleNamespace(resource_pre_event=SimpleNamespace(metadata=meta)))
    assert [(r["name"], r["type"]) for r in observer.resource_list] == [
        ("kept", "t:m:R"), ("made", "t:m:R"), ("svc", "t:m:R")]
