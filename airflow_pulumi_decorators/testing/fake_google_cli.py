"""``apd-fake-google`` (or ``python -m airflow_pulumi_decorators.testing.fake_google_cli``): the fake Google token
server as a process of its own, to run beside ``airflow dags test`` or a local Airflow.

It writes a subject token file and a ready ``external_account`` credential configuration pointing at itself,
prints where everything is and the environment variables that point an Airflow connection and the metadata
server at it, then serves until interrupted (Ctrl-C / SIGTERM) and prints the requests it answered. Issued
access tokens are never printed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from airflow_pulumi_decorators.testing.google import DEFAULT_AUDIENCE, FakeGoogleTokenServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apd-fake-google",
        description="Serve fake Google token endpoints (STS, IAM Credentials, metadata server) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to serve on (default: a free one)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder for the subject token and credential configuration (default: a new temp folder)")
    parser.add_argument("--subject-token", default=None,
                        help="the OIDC subject token STS accepts (default: a random one)")
    parser.add_argument("--audience", default=DEFAULT_AUDIENCE, help="the workload identity pool provider")
    parser.add_argument("--impersonate", default=None, metavar="EMAIL",
                        help="add service-account impersonation of EMAIL to the credential configuration")
    parser.add_argument("--conn-id", default="google_cloud_default",
                        help="the Airflow connection id to print an AIRFLOW_CONN_* variable for")
    parser.add_argument("--token-lifetime", type=int, default=3600, help="seconds issued tokens live")
    parser.add_argument("--project-id", default="fake-project", help="the metadata server's project id")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def describe(fake: FakeGoogleTokenServer, folder: Path, *, audience: str, impersonate: str | None,
             conn_id: str) -> dict[str, Any]:
    """Write the subject token file and the credential configuration into ``folder``; say where it all is.

    :param fake: the running server.
    :param folder: where the two files go.
    :param audience: the configuration's audience.
    :param impersonate: a service account to impersonate, or ``None``.
    :param conn_id: the connection id of the ``AIRFLOW_CONN_*`` variable.
    :return: endpoints, file paths, the configuration and the environment variables.
    """
    folder.mkdir(parents=True, exist_ok=True)
    token_file = folder / "oidc-token"
    token_file.write_text(fake.subject_token)
    token_file.chmod(0o600)
    config = fake.external_account_config(subject_token_file=token_file, audience=audience, impersonate=impersonate)
    config_file = folder / "wif-config.json"
    config_file.write_text(json.dumps(config, indent=2))
    connection = {"conn_type": "google_cloud_platform", "extra": {"credential_config_file": str(config_file)}}
    return {
        "url": fake.url,
        "token_url": fake.token_url,
        "iam_endpoint": fake.url,
        "metadata_host": fake.metadata_host,
        "subject_token_file": str(token_file),
        "credential_config_file": str(config_file),
        "credential_config": config,
        "env": {
            f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(connection),
            "GCE_METADATA_HOST": fake.metadata_host,
            "NO_PROXY": "127.0.0.1,localhost",
        },
    }


def _text(info: dict[str, Any]) -> str:
    lines = [
        f"fake Google token server on {info['url']} (Ctrl-C to stop)",
        f"  STS token endpoint:   {info['token_url']}",
        f"  IAM Credentials:      {info['iam_endpoint']}  (ServiceAccountImpersonation(iam_endpoint=...))",
        f"  metadata server:      {info['metadata_host']}  (GkeMetadataServer(metadata_host=...))",
        f"  subject token file:   {info['subject_token_file']}",
        f"  credential config:    {info['credential_config_file']}",
        "",
        "# In the shell that runs `airflow dags test`:",
        *(f"export {name}={shlex.quote(value)}" for name, value in info["env"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the server until SIGINT/SIGTERM.

    :param argv: arguments (default ``sys.argv[1:]``).
    """
    args = _parser().parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    folder = args.dir or Path(tempfile.mkdtemp(prefix="apd-fake-google-"))
    fake = FakeGoogleTokenServer(
        port=args.port,
        subject_token=args.subject_token,
        check_subject_token=True,
        expected_audience=args.audience,
        token_lifetime=args.token_lifetime,
        project_id=args.project_id,
    )
    try:
        fake.start()
    except OSError as error:
        sys.exit(f"apd-fake-google: cannot serve on 127.0.0.1:{args.port}: {error}")
    with fake:
        info = describe(fake, folder, audience=args.audience, impersonate=args.impersonate, conn_id=args.conn_id)
        print(json.dumps(info) if args.json else _text(info), flush=True)
        stop.wait()
        for request in fake.requests:
            print(f"{request.method} {request.path} -> {request.endpoint} {request.status}", file=sys.stderr)


if __name__ == "__main__":
    main()
