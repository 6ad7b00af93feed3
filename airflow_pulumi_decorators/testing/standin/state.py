"""File backend layout (like Pulumi's diy backend), checkpoints, history and locks.

Layout under ``<backend dir>/.pulumi/``::

    meta.yaml                                   backend format version
    stacks/<project>/<stack>.json               checkpoint (``latest.resources``)
    backups/<project>/<stack>/<stack>.<ns>.json   a copy of the checkpoint after each update
    history/<project>/<stack>/<stack>-<ns>.history.json   one per update
    locks/organization/<project>/<stack>/<uuid>.json   held during operations
    standin-workspaces/<hash>.json              current stack per project dir
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .constants import DEFAULT_ORG, ENV_BACKEND_URL, ENV_HOME, EXIT_STACK_NOT_FOUND, STANDIN_VERSION
from .sink import StandinError

_STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def atomic_write_json(path: str, data: Any, *, compact: bool = False) -> None:
    """Write JSON via a temp file and rename so readers never see half a file.

    :param path: Destination.
    :param data: JSON-serialisable data.
    :param compact: one line without spaces, as the Pulumi CLI writes its state files.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if compact:
                json.dump(data, handle, separators=(",", ":"), sort_keys=False)
            else:
                json.dump(data, handle, indent=4, sort_keys=False)
                handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str) -> Any:
    """Read a JSON file.

    :param path: File to read.
    """
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


#: Python's JSON complaint → Go's (``encoding/json``), which the CLI prints after the offending character.
_GO_JSON_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Extra data": "after top-level value",
}


def go_json_error(exc: json.JSONDecodeError) -> str:
    """A JSON syntax error in the words of Go's ``encoding/json`` (what the Pulumi CLI prints).

    :param exc: Python's error.
    """
    if not exc.doc[exc.pos:].strip() or exc.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    char = exc.doc[exc.pos]
    quoted = "'\\''" if char == "'" else f"'{char}'" if char.isprintable() else repr(char)
    return f"invalid character {quoted} {_GO_JSON_CONTEXT.get(exc.msg, 'in JSON input')}"


def iso_now() -> str:
    """Current UTC time in Pulumi's JSON timestamp format (milliseconds)."""
    return iso_from_unix(time.time())


def iso_from_unix(ts: float) -> str:
    """Format a unix time like Pulumi's JSON output (``...T..:..:...000Z``).

    :param ts: Seconds since the epoch.
    """
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def find_project(cwd: str) -> tuple[str, str] | None:
    """Find ``Pulumi.yaml``/``.yml``/``.json`` searching upwards from cwd.

    :param cwd: Directory to start in.
    :returns: (project name, project directory) or None.
    """
    directory = os.path.abspath(cwd)
    while True:
        for ext in (".yaml", ".yml", ".json"):
            path = os.path.join(directory, f"Pulumi{ext}")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    if ext == ".json":
                        data = json.load(handle)
                    else:
                        import yaml

                        data = yaml.safe_load(handle)
                name = (data or {}).get("name")
                if not name:
                    raise StandinError(f"project file {path} has no 'name'")
                return str(name), directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


@dataclass(frozen=True)
class StackRef:
    """A resolved stack reference.

    :param org: Organization (always ``organization`` on a file backend).
    :param project: Project name.
    :param name: Short stack name.
    """

    org: str
    project: str
    name: str

    @property
    def fqn(self) -> str:
        """``organization/project/stack``."""
        return f"{self.org}/{self.project}/{self.name}"


def parse_stack_ref(ref: str, current_project: str | None) -> StackRef:
    """Parse ``stack``, ``org/stack`` or ``org/project/stack`` like the diy backend.

    :param ref: The stack argument.
    :param current_project: Project from ``Pulumi.yaml`` (may be None).
    :raises StandinError: On malformed names, a foreign org or a missing project.
    """
    parts = ref.split("/")
    if len(parts) == 1:
        org, project, name = DEFAULT_ORG, current_project, parts[0]
    elif len(parts) == 2:
        org, project, name = parts[0], current_project, parts[1]
    elif len(parts) == 3:
        org, project, name = parts
    else:
        raise StandinError(f"could not parse stack reference '{ref}'")
    if org != DEFAULT_ORG:
        # The diy backend has no organizations; Pulumi insists on this literal.
        raise StandinError(
            f"stack reference '{ref}': organization name must be '{DEFAULT_ORG}' "
            "with a file:// backend"
        )
    if not project:
        raise StandinError(
            "no Pulumi.yaml project file found (searching upwards from the "
            "working directory); pass the stack as organization/<project>/<stack>"
        )
    if not _STACK_NAME_RE.match(name):
        raise StandinError(
            "stack names may only contain alphanumeric, hyphens, underscores, or periods"
        )
    return StackRef(org, project, name)


#: ``apitype.DeploymentV3`` fields in the order the CLI writes them.
_DEPLOYMENT_FIELDS = ("manifest", "secrets_providers", "resources", "pending_operations", "metadata")
#: ``apitype.ResourceV3`` fields in the order the CLI writes them (all but urn, custom and type are omitted when
#: empty).
_RESOURCE_FIELDS = (
    "urn", "custom", "delete", "id", "type", "inputs", "outputs", "parent", "protect", "taint", "external",
    "dependencies", "initErrors", "provider", "propertyDependencies", "pendingReplacement",
    "additionalSecretOutputs", "aliases", "customTimeouts", "importID", "retainOnDelete", "deletedWith",
    "replaceWith", "created", "modified", "sourcePosition", "stackTrace", "ignoreChanges", "hideDiff",
    "replaceOnChanges",
)
_REQUIRED_RESOURCE_FIELDS = ("urn", "custom", "type")


def manifest_magic(version: str) -> str:
    """The manifest's magic cookie, as the CLI computes and checks it (``deploy.Manifest.NewMagic``): the hex
    SHA-256 of the version string, empty for an empty version. A mismatch makes the CLI refuse the state
    ("snapshot integrity failure ... magic cookie mismatch").

    :param version: The manifest's ``version``.
    """
    return hashlib.sha256(version.encode("utf-8")).hexdigest() if version else ""


#: The CLI's words for a checkpoint whose manifest it refuses (``diy.getSnapshot``, ``Snapshot.VerifyIntegrity``).
INTEGRITY_FAILURE = "snapshot integrity failure; refusing to use it"
MAGIC_MISMATCH = "magic cookie mismatch; possible tampering/corruption detected"


def check_manifest(manifest: Mapping[str, Any], path: str) -> None:
    """Refuse a checkpoint whose magic cookie the real CLI would refuse, naming the cause and the fix. Manifests of
    stand-ins that wrote no cookie (an empty magic with a ``+standin`` version) are still read: the next write
    gives them the cookie, after which the real CLI reads them too.

    :param manifest: the checkpoint's ``manifest``.
    :param path: the checkpoint file (for the message).
    :raises StandinError: on a mismatch.
    """
    version, magic = str(manifest.get("version") or ""), str(manifest.get("magic") or "")
    if magic == manifest_magic(version) or (not magic and version.endswith("+standin")):
        return
    raise StandinError(
        f"{INTEGRITY_FAILURE}: {MAGIC_MISMATCH}\n"
        f"{path}: manifest.magic is not the SHA-256 of manifest.version {version!r}, so the file was not written "
        "as the Pulumi CLI writes it (edited by hand, or by another tool). Restore the newest copy from the "
        "backend's .pulumi/backups/ folder, or set manifest.magic to the hex SHA-256 of manifest.version"
    )


def new_manifest() -> dict[str, str]:
    """A checkpoint manifest written now by this engine."""
    version = "v" + STANDIN_VERSION
    return {"time": iso_now(), "magic": manifest_magic(version), "version": version}


def state_resource(res: dict[str, Any]) -> dict[str, Any]:
    """One resource as the CLI writes it: its field order, empty fields left out (Go's ``omitempty``).

    :param res: A resource of the state, in any field order.
    """
    out = {k: res[k] for k in _RESOURCE_FIELDS if k in _REQUIRED_RESOURCE_FIELDS or (k in res and res[k])}
    out.update((k, v) for k, v in res.items() if k not in _RESOURCE_FIELDS and v not in (None, "", [], {}, False))
    out.setdefault("custom", False)
    return out


class Backend:
    """A ``file://`` backend rooted at a directory.

    :param root: Directory that holds ``.pulumi/``.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.dir = os.path.join(root, ".pulumi")

    @property
    def url(self) -> str:
        """The backend URL."""
        return "file://" + self.root

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Backend:
        """Build from ``PULUMI_BACKEND_URL``.

        :param env: The command's environment.
        :raises StandinError: If unset or not ``file://``.
        """
        url = env.get(ENV_BACKEND_URL)
        if not url:
            raise StandinError(
                "no backend configured; set PULUMI_BACKEND_URL "
                "(the stand-in engine supports only file:// backends)"
            )
        return cls(backend_root_from_url(url, env))

    def ensure(self) -> None:
        """Create the backend directory and its ``meta.yaml``.

        :raises StandinError: With the CLI's wording when the folder cannot be opened or created (a path
            under a regular file, no permission).
        """
        operation = "stat"
        try:
            try:
                os.stat(self.root)
            except FileNotFoundError:
                pass  # created below, as the CLI does
            operation = "mkdir"
            os.makedirs(self.dir, exist_ok=True)
            meta = os.path.join(self.dir, "meta.yaml")
            if not os.path.exists(meta):
                operation = "open"
                with open(meta, "w", encoding="utf-8") as handle:
                    handle.write("version: 1\n")
        except OSError as exc:
            raise StandinError(
                f'unable to open state directory "{self.url}": {operation} {exc.filename}: '
                f"{(exc.strerror or str(exc)).lower()}"
            ) from None

    # ----- paths
    def checkpoint_path(self, ref: StackRef) -> str:
        """:param ref: Stack."""
        return os.path.join(self.dir, "stacks", ref.project, f"{ref.name}.json")

    def history_dir(self, ref: StackRef) -> str:
        """:param ref: Stack."""
        return os.path.join(self.dir, "history", ref.project, ref.name)

    def lock_dir(self, ref: StackRef) -> str:
        """:param ref: Stack."""
        # Pulumi's diy backend puts the (fixed) organization first: locks/organization/<project>/<stack>.
        return os.path.join(self.dir, "locks", DEFAULT_ORG, ref.project, ref.name)

    # ----- stacks
    def exists(self, ref: StackRef) -> bool:
        """:param ref: Stack."""
        return os.path.isfile(self.checkpoint_path(ref))

    def require(self, ref: StackRef) -> None:
        """Fail with Pulumi's wording if the stack does not exist.

        :param ref: Stack.
        """
        if not self.exists(ref):
            raise StandinError(f"no stack named '{ref.name}' found", code=EXIT_STACK_NOT_FOUND)

    def list_stacks(self, project: str | None) -> list[StackRef]:
        """Stacks of one project, or of all projects when ``project`` is None.

        :param project: Project filter.
        """
        base = os.path.join(self.dir, "stacks")
        projects = [project] if project else sorted(_listdir(base))
        refs = []
        for proj in projects:
            for entry in sorted(_listdir(os.path.join(base, proj))):
                if entry.endswith(".json") and not entry.startswith("."):
                    refs.append(StackRef(DEFAULT_ORG, proj, entry[: -len(".json")]))
        return refs

    def read_checkpoint(self, ref: StackRef) -> dict[str, Any]:
        """Load a checkpoint, creating the empty shape for new stacks.

        :param ref: Stack.
        """
        self.require(ref)
        try:
            data: dict[str, Any] = read_json(self.checkpoint_path(ref))
        except json.JSONDecodeError as exc:
            raise StandinError(f"failed to load checkpoint: place 1: {go_json_error(exc)}") from None
        checkpoint = data.setdefault("checkpoint", {})
        latest = checkpoint.get("latest") or {}
        check_manifest(latest.get("manifest") or {}, self.checkpoint_path(ref))
        latest.setdefault("resources", [])
        checkpoint["latest"] = latest
        return data

    def write_checkpoint(self, ref: StackRef, data: dict[str, Any]) -> None:
        """Atomically write a checkpoint in the real CLI's format (``deploy.Snapshot`` as ``apitype.DeploymentV3``):
        a manifest whose magic cookie the CLI checks, resources with the CLI's field order and no empty fields.

        :param ref: Stack.
        :param data: Whole checkpoint file content.
        """
        latest = data["checkpoint"].setdefault("latest", {})
        latest["manifest"] = new_manifest()
        latest["resources"] = [state_resource(r) for r in latest.get("resources") or []]
        ordered = {k: latest[k] for k in _DEPLOYMENT_FIELDS if latest.get(k) or k == "manifest"}
        ordered.update((k, v) for k, v in latest.items() if k not in ordered and k not in _DEPLOYMENT_FIELDS)
        ordered.setdefault("metadata", {})
        data["checkpoint"]["latest"] = ordered
        atomic_write_json(self.checkpoint_path(ref), data, compact=True)

    def new_checkpoint(self, ref: StackRef, salt_state: str) -> dict[str, Any]:
        """The checkpoint of a freshly initialised stack.

        :param ref: Stack.
        :param salt_state: ``encryptionsalt`` of the passphrase provider.
        """
        return {
            "version": 3,
            "checkpoint": {
                "stack": ref.fqn,
                "latest": {
                    "manifest": {},
                    "secrets_providers": {
                        "type": "passphrase",
                        "state": {"salt": salt_state},
                    },
                    "resources": [],
                },
            },
        }

    def backup_checkpoint(self, ref: StackRef) -> None:
        """Keep a copy of the stack's checkpoint as the CLI does after each update
        (``backups/<project>/<stack>/<stack>.<ns>.json``), the copy to restore when the checkpoint is damaged.

        :param ref: Stack.
        """
        import shutil

        directory = os.path.join(self.dir, "backups", ref.project, ref.name)
        os.makedirs(directory, exist_ok=True)
        shutil.copyfile(self.checkpoint_path(ref), os.path.join(directory, f"{ref.name}.{time.time_ns()}.json"))

    def remove_stack(self, ref: StackRef) -> None:
        """Delete checkpoint and history of a stack.

        :param ref: Stack.
        """
        import shutil

        os.unlink(self.checkpoint_path(ref))
        shutil.rmtree(self.history_dir(ref), ignore_errors=True)

    # ----- history
    def rename_history(self, ref: StackRef, new_ref: StackRef) -> None:
        """Move a stack's history records to its new name (``<stack>-<ns>.history.json`` files renamed too).

        :param ref: Old name.
        :param new_ref: New name.
        """
        old_dir, new_dir = self.history_dir(ref), self.history_dir(new_ref)
        names = _listdir(old_dir)
        if not names:
            return
        os.makedirs(new_dir, exist_ok=True)
        for name in names:
            target = new_ref.name + name[len(ref.name):] if name.startswith(ref.name + "-") else name
            os.replace(os.path.join(old_dir, name), os.path.join(new_dir, target))
        os.rmdir(old_dir)

    def append_history(self, ref: StackRef, entry: dict[str, Any]) -> dict[str, Any]:
        """Store one update record; assigns its ``version``.

        :param ref: Stack.
        :param entry: Update info (kind, times, message, result, ...).
        """
        entries = self.read_history(ref)
        entry["version"] = (entries[0]["version"] + 1) if entries else 1
        name = f"{ref.name}-{time.time_ns()}.history.json"
        atomic_write_json(os.path.join(self.history_dir(ref), name), entry)
        return entry

    def read_history(self, ref: StackRef) -> list[dict[str, Any]]:
        """Update records, newest first.

        :param ref: Stack.
        """
        directory = self.history_dir(ref)
        entries: list[tuple[int, dict[str, Any]]] = []
        for name in _listdir(directory):
            if name.endswith(".history.json"):
                entries.append((_history_sort_key(name), read_json(os.path.join(directory, name))))
        # Newest first by file name (a nanosecond timestamp), as the CLI lists them: its own records all carry
        # version 0, so the version cannot order a history the two engines wrote together.
        return [entry for _name, entry in sorted(entries, key=lambda item: item[0], reverse=True)]

    # ----- locks
    def locks(self, ref: StackRef) -> list[str]:
        """Paths of current lock files of a stack.

        :param ref: Stack.
        """
        directory = self.lock_dir(ref)
        return [
            os.path.join(directory, n)
            for n in sorted(_listdir(directory))
            if n.endswith(".json") and not n.startswith(".")
        ]

    def acquire_lock(self, ref: StackRef) -> str:
        """Take the stack lock or fail with Pulumi's locked-stack error.

        A short-lived ``O_EXCL`` mutex file makes "check for locks, then write
        ours" atomic across processes and threads.

        :param ref: Stack.
        :returns: Path of our lock file.
        :raises StandinError: If another operation holds the lock.
        """
        directory = self.lock_dir(ref)
        os.makedirs(directory, exist_ok=True)
        mutex = os.path.join(directory, ".acquire")
        deadline = time.monotonic() + 10.0
        while True:
            try:
                fd = os.open(mutex, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
                break
            except FileExistsError:
                _break_stale_mutex(mutex)
                if time.monotonic() > deadline:
                    raise StandinError(f"timed out waiting for {mutex}") from None
                time.sleep(0.005)
        try:
            existing = self.locks(ref)
            if existing:
                raise StandinError(locked_message(existing))
            path = os.path.join(directory, f"{uuid.uuid4()}.json")
            info = {
                "pid": os.getpid(),
                "username": _username(),
                "hostname": socket.gethostname(),
                "timestamp": iso_now(),
            }
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(info, handle)
            return path
        finally:
            try:
                os.unlink(mutex)
            except OSError:
                pass

    def release_lock(self, path: str | None) -> None:
        """Remove our lock file (idempotent).

        :param path: Value returned by :meth:`acquire_lock`.
        """
        if path:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def clear_locks(self, ref: StackRef) -> int:
        """Remove all locks of a stack (``pulumi cancel``).

        :param ref: Stack.
        :returns: Number of lock files removed.
        """
        removed = 0
        for path in self.locks(ref):
            try:
                os.unlink(path)
                removed += 1
            except FileNotFoundError:
                pass
        return removed

    # ----- current stack per project directory
    def _selection_path(self, project_dir: str, env: Mapping[str, str]) -> str:
        digest = hashlib.sha1(os.path.abspath(project_dir).encode()).hexdigest()[:16]
        home = env.get(ENV_HOME)
        if home:
            return os.path.join(home, "workspaces", f"standin-{digest}-workspace.json")
        # Without PULUMI_HOME keep it in the backend so ~/.pulumi is never touched.
        return os.path.join(self.dir, "standin-workspaces", f"{digest}.json")

    def select(self, project_dir: str, env: Mapping[str, str], ref: StackRef) -> None:
        """Remember the selected stack of a project directory.

        :param project_dir: Directory holding Pulumi.yaml.
        :param env: Environment (for ``PULUMI_HOME``).
        :param ref: Selected stack.
        """
        atomic_write_json(self._selection_path(project_dir, env), {"stack": ref.fqn})

    def selected(self, project_dir: str, env: Mapping[str, str]) -> str | None:
        """Fully-qualified name of the selected stack, if any.

        :param project_dir: Directory holding Pulumi.yaml.
        :param env: Environment (for ``PULUMI_HOME``).
        """
        try:
            stack: str | None = read_json(self._selection_path(project_dir, env)).get("stack")
        except (OSError, ValueError):
            return None
        return stack


def locked_message(lock_paths: list[str]) -> str:
    """Pulumi's diy-backend text for a locked stack (mapped to ConcurrentUpdateError).

    :param lock_paths: Existing lock files.
    """
    lines = [
        f"the stack is currently locked by {len(lock_paths)} lock(s). Either wait "
        "for the other process(es) to end or delete the lock file with `pulumi cancel`."
    ]
    for path in lock_paths:
        try:
            info = read_json(path)
        except (OSError, ValueError):
            info = {}
        lines.append(
            f"  {path}: created by {info.get('username', '?')}@"
            f"{info.get('hostname', '?')} (pid {info.get('pid', '?')}) at "
            f"{info.get('timestamp', '?')}"
        )
    return "\n".join(lines)


def backend_root_from_url(url: str, env: Mapping[str, str]) -> str:
    """Directory of a ``file://`` URL (``file://~`` means the home directory).

    :param url: Backend URL.
    :param env: Environment (for ``HOME``).
    :raises StandinError: For non-file URLs.
    """
    if not url.startswith("file://"):
        raise StandinError(
            f"backend URL {url!r} is not supported: the stand-in engine supports "
            "only file:// backends"
        )
    path = url[len("file://"):]
    if "?" in path:
        path = path.split("?", 1)[0]
    if path == "~" or path.startswith("~/"):
        home = env.get("HOME") or os.path.expanduser("~")
        path = home + path[1:]
    if not os.path.isabs(path):
        raise StandinError(f"backend URL {url!r} must be an absolute file:// path")
    return os.path.normpath(path)


def _history_sort_key(name: str) -> int:
    stem = name[: -len(".history.json")]
    try:
        return int(stem.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return 0


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []


def _username() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _break_stale_mutex(path: str) -> None:
    # The mutex lives for microseconds; one older than 10 s belongs to a dead process.
    try:
        if time.time() - os.stat(path).st_mtime > 10:
            os.unlink(path)
    except OSError:
        pass
