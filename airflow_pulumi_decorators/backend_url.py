"""A state backend URL and what the library reads from it: its kind, its local folder, its console.

Plain Python (``urllib`` only): :mod:`~airflow_pulumi_decorators.links` and
:mod:`~airflow_pulumi_decorators.connections` use it at DAG parse time. Checking a URL a user gave is
:func:`~airflow_pulumi_decorators.connections.validate_backend_url`'s job; this type reads a valid one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

#: Schemes of the bucket (diy) backends; ``file`` is local and anything else is a Pulumi service.
BUCKET_SCHEMES = ("gs", "s3", "azblob")
#: Pulumi Cloud's API host and the console it serves.
_CLOUD_APP = {"api.pulumi.com": "https://app.pulumi.com"}


@dataclass(frozen=True)
class BackendUrl:
    """A state backend URL (``file:///srv/state``, ``gs://bucket/prefix``, ``https://api.pulumi.com`` …).

    :param url: the URL as configured (stripped).
    """

    url: str

    def __str__(self) -> str:
        return self.url

    @property
    def scheme(self) -> str:
        """The scheme, lower case (``file``, ``gs``, ``https`` …)."""
        return self.url.split("://", 1)[0].lower()

    @property
    def kind(self) -> str:
        """``file``, ``bucket`` or ``cloud`` (the Pulumi service)."""
        if self.scheme == "file":
            return "file"
        if self.scheme in BUCKET_SCHEMES:
            return "bucket"
        return "cloud"

    @property
    def is_local(self) -> bool:
        """State in a folder of this machine (``file://``)."""
        return self.scheme == "file"

    @property
    def local_path(self) -> str | None:
        """The state folder of a ``file://`` backend (``~`` expanded); ``None`` for other backends."""
        if not self.is_local:
            return None
        if self.url.startswith("file://~"):
            return os.path.expanduser("~" + self.url[len("file://~"):])
        return unquote(urlparse(self.url).path) or None

    @property
    def console_url(self) -> str | None:
        """The Pulumi Cloud console of an ``http(s)://`` backend (``api.X`` serves ``app.X``); ``None`` when
        there is none."""
        if not self.url.startswith(("https://", "http://")):
            return None
        host = urlparse(self.url).hostname or ""
        if host in _CLOUD_APP:
            return _CLOUD_APP[host]
        return f"https://{host.replace('api.', 'app.', 1)}" if host.startswith("api.") else None
