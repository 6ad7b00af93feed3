"""A state backend URL and what the library reads from it: its kind, its local folder, its console.

Plain Python (``urllib`` only), used at DAG parse time: :func:`validate_backend_url` checks a URL a user
gave (an ``Environment``'s, at parse time); :class:`BackendUrl` reads a valid one (links, locks, the engine).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import unquote, urlparse, urlsplit

from airflow_pulumi_decorators.errors import ConfigurationError

#: Schemes of the bucket (diy) backends; ``file`` is local and anything else is a Pulumi service.
BUCKET_SCHEMES = ("gs", "s3", "azblob")
#: Schemes of a Pulumi service backend (``http`` only on loopback: the access token goes with it).
CLOUD_SCHEMES = ("https", "http")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
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


def validate_backend_url(url: object, *, where: str) -> str:
    """Check a backend URL; returns it stripped.

    :param url: the URL.
    :param where: what to name in the error, e.g. ``connection 'pulumi_prod' field 'host' (Backend URL)``.
    """
    fix = (
        "use file:///absolute/path, gs://bucket[/prefix], s3://bucket[/prefix], azblob://container[/prefix] "
        "or https://api.pulumi.com"
    )
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"{where} is empty; {fix}")
    url = url.strip()
    if "://" not in url:
        raise ConfigurationError(f"{where}={url!r} is not a URL; {fix}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        path = url[len("file://"):]
        if not (path == "~" or path.startswith(("/", "~/"))):
            raise ConfigurationError(f"{where}={url!r}: a file:// backend needs an absolute path ({fix})")
    elif scheme in BUCKET_SCHEMES:
        if not parts.netloc:
            raise ConfigurationError(f"{where}={url!r} names no bucket/container; {fix}")
    elif scheme in CLOUD_SCHEMES:
        if not parts.hostname:
            raise ConfigurationError(f"{where}={url!r} names no host; {fix}")
        if scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ConfigurationError(
                f"{where}={url!r} would send the access token unencrypted; use https://"
            )
    else:
        raise ConfigurationError(f"{where}={url!r} has an unsupported scheme {parts.scheme!r}; {fix}")
    return url
