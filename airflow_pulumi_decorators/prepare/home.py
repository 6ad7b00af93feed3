"""The ``PULUMI_HOME`` a task's engine uses: the worker's, or one of its own removed afterwards."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from airflow_pulumi_decorators import settings

log = logging.getLogger(__name__)

HOMES_SUBDIR = "homes"


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
    home = tempfile.mkdtemp(prefix="task-", dir=root)  # 0700: nothing else on the worker reads it
    link = os.path.join(home, "plugins")
    try:
        # Workspace state stays private to the task; plugins are shared (installed once per worker).
        os.symlink(cache, link)
        log.info("pulumi: PULUMI_HOME=%s (per task; plugins shared in %s)", home, cache)
        yield home, cache
    finally:
        with contextlib.suppress(OSError):
            os.unlink(link)  # first, so removing the home can never reach into the shared cache
        shutil.rmtree(home, ignore_errors=True)
