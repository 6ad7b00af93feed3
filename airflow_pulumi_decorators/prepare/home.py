"""The ``PULUMI_HOME`` a task's engine uses: the worker's, or one of its own removed afterwards."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator

from airflow_pulumi_decorators import settings
from airflow_pulumi_decorators.locks import process_gone

log = logging.getLogger(__name__)

HOMES_SUBDIR = "homes"
#: The file in a per-task home that names the task process owning it (``{"host": …, "pid": …}``).
OWNER_FILE = ".airflow-owner.json"


def _owner_gone(home: str) -> bool:
    """Whether the task process that made ``home`` no longer runs on this host (a home without a readable
    owner is never called gone: it may be one another task is making right now)."""
    try:
        with open(os.path.join(home, OWNER_FILE), encoding="utf-8") as handle:
            owner = json.load(handle)
        host, pid = owner["host"], owner["pid"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return isinstance(host, str) and isinstance(pid, int) and process_gone(host, pid)


def _remove_home(home: str) -> None:
    """Remove a per-task home without following a symlink out of it (``plugins`` is the shared cache)."""
    with contextlib.suppress(OSError):
        os.unlink(os.path.join(home, "plugins"))  # first, so removing the home can never reach into the cache
    shutil.rmtree(home, ignore_errors=True)  # rmtree unlinks symlinks inside, never follows them


def remove_orphaned_homes(root: str) -> list[str]:
    """Remove the per-task homes in ``root`` whose task process is gone (a hard-killed task never removes its
    own); a home whose process runs, or that is a symlink, is left alone.

    :return: the homes removed.
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("task-") or not entry.is_dir(follow_symlinks=False):
            continue
        if _owner_gone(entry.path):
            _remove_home(entry.path)
            removed.append(entry.path)
    return removed


@contextlib.contextmanager
def pulumi_home(strategy: str) -> Iterator[tuple[str | None, str | None]]:
    """Yield ``(PULUMI_HOME, plugin cache)`` for a task; a per-task home is removed afterwards.

    :param strategy: ``[pulumi] pulumi_home``: ``per_task`` makes a private home whose ``plugins`` folder links
        to the worker's shared plugin cache; anything else leaves the worker's (``(None, None)``).
    """
    if strategy != "per_task":
        yield None, None
        return
    root = os.path.join(settings.worker_dir(), HOMES_SUBDIR)
    cache = settings.plugin_cache_dir()
    os.makedirs(root, exist_ok=True)
    os.makedirs(cache, exist_ok=True)
    for gone in remove_orphaned_homes(root):
        log.info("pulumi: removed %s, the PULUMI_HOME of a task process that is gone (killed?)", gone)
    home = tempfile.mkdtemp(prefix="task-", dir=root)  # 0700: nothing else on the worker reads it
    try:
        with open(os.path.join(home, OWNER_FILE), "w", encoding="utf-8") as handle:
            json.dump({"host": socket.gethostname(), "pid": os.getpid()}, handle)
        # Workspace state stays private to the task; plugins are shared (installed once per worker).
        os.symlink(cache, os.path.join(home, "plugins"))
        log.info("pulumi: PULUMI_HOME=%s (per task; plugins shared in %s)", home, cache)
        yield home, cache
    finally:
        _remove_home(home)
