"""Fixtures for the real-CLI tests: a loopback ``gs://`` backend (see :mod:`tests.real_cli.gcs`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_pulumi_decorators.testing.google import FakeGoogleTokenServer
from tests.real_cli.gcs import FakeGcs, RecordingProxy

#: Variables that would point a Google client elsewhere than at our fakes, or bypass the proxy.
_FOREIGN = (
    "STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON", "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT", "GCE_METADATA_ROOT",
    "GCE_METADATA_IP", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "GOOGLE_PROJECT", "CLOUDSDK_CORE_PROJECT",
    "SSL_CERT_DIR", "ALL_PROXY", "all_proxy",
)


@dataclass
class GcsBackend:
    """A ``gs://`` backend served by the emulator, reached by the CLI only through the recording proxy.

    :ivar url: the backend URL, ``gs://BUCKET/PREFIX``.
    """

    gcs: FakeGcs
    proxy: RecordingProxy
    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"gs://{self.bucket}/{self.prefix}"

    def object_names(self) -> list[str]:
        return self.gcs.object_names(self.bucket)

    def state(self, project: str, stack: str = "dev") -> dict[str, Any]:
        """The stack's checkpoint, read from the bucket."""
        return json.loads(self.gcs.read(self.bucket, f"{self.prefix}/.pulumi/stacks/{project}/{stack}.json"))

    def all_text(self) -> str:
        """Every object in the bucket (state, backups, history, locks, meta), for leak searches."""
        return self.gcs.all_text(self.bucket)


@pytest.fixture
def fake() -> Iterator[FakeGoogleTokenServer]:
    """Google's token endpoints on loopback, with a random subject token (the test-wide ``subject_file``
    writes it), so the leak searches look for a value no other test shares."""
    with FakeGoogleTokenServer(
        subject_token="oidc-subject-" + secrets.token_urlsafe(24), check_subject_token=True
    ) as fake:
        yield fake


@pytest.fixture
def gcs_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogleTokenServer) -> Iterator[GcsBackend]:
    """An emulated bucket (created up front: the CLI does not create buckets) behind the recording proxy.

    The worker's environment sends HTTPS through the proxy, trusts its CA (``SSL_CERT_FILE``) and has
    ``GCE_METADATA_HOST`` on the fake token server, so no Google client ever tries 169.254.169.254;
    ``STORAGE_EMULATOR_HOST`` stays unset (it would make the CLI drop its ``Authorization`` header).
    """
    folder = tmp_path / "gcs"
    folder.mkdir()
    with FakeGcs(folder / "fake-gcs-server.log") as gcs, RecordingProxy(gcs.address, folder) as proxy:
        backend = GcsBackend(gcs, proxy, bucket="apd-state-" + secrets.token_hex(4), prefix="airflow")
        gcs.create_bucket(backend.bucket)
        for name in _FOREIGN:
            monkeypatch.delenv(name, raising=False)
        for name, value in proxy.client_env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GCE_METADATA_HOST", fake.metadata_host)
        yield backend
