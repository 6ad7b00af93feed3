"""The backend URL type: kind, local folder, console."""

import os

import pytest

from airflow_pulumi_decorators.backend_url import BackendUrl


@pytest.mark.parametrize(
    ("url", "kind", "local"),
    [
        ("file:///srv/state", "file", "/srv/state"),
        ("file:///srv/with%20space", "file", "/srv/with space"),
        ("FILE:///srv/state", "file", "/srv/state"),
        ("gs://bucket/prefix", "bucket", None),
        ("s3://bucket?region=eu-west-1", "bucket", None),
        ("azblob://container", "bucket", None),
        ("https://api.pulumi.com", "cloud", None),
    ],
)
def test_kind_and_local_folder(url, kind, local):
    backend = BackendUrl(url)
    assert backend.kind == kind and backend.is_local == (kind == "file") and backend.local_path == local
    assert str(backend) == url


def test_a_home_relative_folder_is_expanded():
    assert BackendUrl("file://~/state").local_path == os.path.expanduser("~/state")


@pytest.mark.parametrize(
    ("url", "console"),
    [
        ("https://api.pulumi.com", "https://app.pulumi.com"),
        ("https://api.pulumi.acme.internal", "https://app.pulumi.acme.internal"),
        ("http://localhost:8080", None),
        ("gs://bucket", None),
        ("file:///srv", None),
    ],
)
def test_console_of_a_pulumi_service(url, console):
    assert BackendUrl(url).console_url == console
