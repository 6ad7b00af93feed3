from airflow_pulumi_decorators.outputs import WITHHELD, StackOutput, to_xcom


def test_plain_outputs_pass_through_as_json_values():
    masked, logged = [], []
    out = to_xcom(
        {"bucket": StackOutput("raw-123"), "count": StackOutput(3), "tags": StackOutput({"a": [1, 2]})},
        push_secrets=False,
        mask=masked.append,
        log=logged.append,
    )
    assert out == {"bucket": "raw-123", "count": 3, "tags": {"a": [1, 2]}}
    assert masked == [] and logged == []


def test_secret_outputs_are_withheld_by_default_but_keep_their_key():
    masked, logged = [], []
    out = to_xcom(
        {"password": StackOutput("s3cr3t-value", secret=True), "url": StackOutput("u")},
        push_secrets=False,
        mask=masked.append,
        log=logged.append,
    )
    assert out == {"password": WITHHELD, "url": "u"}
    assert "s3cr3t-value" not in repr(out)
    assert masked == []
    assert len(logged) == 1 and "password" in logged[0] and "s3cr3t-value" not in logged[0]


def test_pushed_secret_outputs_are_masked_including_nested_strings():
    masked = []
    out = to_xcom(
        {"creds": StackOutput({"user": "admin-user", "pw": "nested-secret"}, secret=True)},
        push_secrets=True,
        mask=masked.append,
        log=lambda _: None,
    )
    assert out == {"creds": {"user": "admin-user", "pw": "nested-secret"}}
    assert "nested-secret" in masked and "admin-user" in masked
