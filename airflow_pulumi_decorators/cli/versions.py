"""What ``pulumi version`` printed, remembered per worker: the answer only changes when the executable does.

One small file per executable in a worker folder, keyed by the executable's path, size, modification time
and inode (a replaced or rebuilt executable gets a new entry). Written atomically, so concurrent tasks of a
worker read a whole answer or none. The cache only saves a process start: any problem reading or writing
it means ``pulumi version`` simply runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile


def _identity(path: str) -> dict[str, object] | None:
    try:
        st = os.stat(path)  # follows a symlink: a repointed link is another executable
    except OSError:
        return None
    return {"path": path, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _entry(cache_dir: str, identity: dict[str, object]) -> str:
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    return os.path.join(cache_dir, f"{key}.json")


def cached_version(path: str, cache_dir: str) -> str | None:
    """What ``path`` printed for ``version`` last time, if the executable has not changed since.

    :param path: the executable.
    :param cache_dir: the worker's cache folder.
    """
    identity = _identity(path)
    if identity is None:
        return None
    try:
        with open(_entry(cache_dir, identity), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("identity") != identity or not isinstance(data.get("printed"), str):
        return None
    return str(data["printed"])


def remember_version(path: str, cache_dir: str, printed: str) -> None:
    """Remember what ``path`` printed for ``version`` (best effort).

    :param path: the executable.
    :param cache_dir: the worker's cache folder (created).
    :param printed: its output, stripped.
    """
    identity = _identity(path)
    if identity is None:
        return
    try:
        os.makedirs(cache_dir, exist_ok=True)
        fd, staging = tempfile.mkstemp(prefix=".version-", dir=cache_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"identity": identity, "printed": printed}, handle)
            os.replace(staging, _entry(cache_dir, identity))
        except BaseException:
            os.unlink(staging)
            raise
    except OSError:
        pass  # an unwritable worker folder costs a `pulumi version` per task, nothing else
