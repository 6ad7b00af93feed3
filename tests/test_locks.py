"""Lock holders (:mod:`airflow_pulumi_decorators.locks`): Pulumi's lock message parsed, and the note that names
the Airflow run holding a ``file://`` stack's lock."""

from __future__ import annotations

import datetime
import os
import socket

from airflow_pulumi_decorators.backend_url import BackendUrl
from airflow_pulumi_decorators.locks import holder_note, parse_lock_holder, with_airflow_holder


def test_lock_holder_is_parsed_from_pulumis_message_and_stale_when_the_process_is_gone():
    dead_pid = 2**22 + 12345
    text = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        "delete the lock file with `pulumi cancel`.\n"
        f"  /s/.pulumi/locks/p/dev/x.json: created by alice@{socket.gethostname()} (pid {dead_pid}) at "
        "2026-01-01T00:00:00.000Z"
    )
    holder = parse_lock_holder(text)
    assert (holder.user, holder.pid, holder.since) == ("alice", dead_pid, "2026-01-01T00:00:00.000Z")
    assert holder.stale and "no longer running" in holder.describe()
    alive = parse_lock_holder(text.replace(str(dead_pid), str(os.getpid())))
    assert not alive.stale
    assert parse_lock_holder("[409] Conflict: Another update is currently in progress.").describe().startswith(
        "an unknown holder"
    )


def test_holder_note_names_the_airflow_run_only_while_it_runs(tmp_path):
    url = BackendUrl(f"file://{tmp_path}")
    holder = parse_lock_holder("created by bob@elsewhere (pid 7) at " + datetime.datetime.now(
        datetime.timezone.utc).isoformat())
    notes = tmp_path / ".pulumi" / "airflow-holders" / "p" / "dev"
    with holder_note(url, "p", "dev", "airflow: dag_id=d run_id=r task_id=t try=1"):
        note = next(notes.glob("*.json"))
        other = notes / "99999999-other.json"  # as if written by another worker
        other.write_text(note.read_text())
        found = with_airflow_holder(holder, url, "p", "dev")
    assert found.airflow == "dag_id=d run_id=r task_id=t try=1"
    assert list(notes.glob("*.json")) == [other]  # ours is gone
    assert with_airflow_holder(holder, BackendUrl("gs://bucket"), "p", "dev").airflow is None
