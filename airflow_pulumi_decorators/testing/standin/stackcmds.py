"""Non-deployment commands: version, whoami, stack *, config *, cancel, plugin ls/install."""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

from airflow_pulumi_decorators import names

from . import props
from .config import StackConfig, checkpoint_salt, config_string, parse_path, resolve_raw
from .constants import ROOT_STACK_TYPE, SECRET_SIG, SIG_KEY, STANDIN_VERSION
from .context import Invocation
from .secrets import PassphraseCipher, check_secrets_provider, cipher_for
from .sink import StandinError
from .state import StackRef, iso_from_unix, read_json


def stack_cipher(inv: Invocation, ref: StackRef) -> PassphraseCipher:
    """Cipher of an existing stack (salt from Pulumi.<stack>.yaml, else checkpoint).

    :param inv: Invocation.
    :param ref: Stack.
    """
    # Pulumi.<stack>.yaml of this project names only this project's stacks: a stack of another project with
    # the same short name (a StackReference's) has its salt in its own checkpoint.
    other_project = inv.project is not None and inv.project[0] != ref.project
    salt = (None if other_project else StackConfig.for_stack(inv.project_dir, ref).salt) or checkpoint_salt(
        inv.backend, ref)
    return cipher_for(salt, inv.env)


def require_yes(inv: Invocation) -> None:
    """Pulumi refuses destructive commands without ``--yes`` when non-interactive.

    :param inv: Invocation.
    """
    if not inv.args.has("yes", "y"):
        raise StandinError(
            "--yes must be passed in to proceed when running in non-interactive mode"
        )


def cmd_version(inv: Invocation) -> int:
    """``pulumi version``.

    :param inv: Invocation.
    """
    inv.sink.out("v" + STANDIN_VERSION)
    return 0


def cmd_whoami(inv: Invocation) -> int:
    """``pulumi whoami [--json]`` — the local user, as with Pulumi's diy backends.

    :param inv: Invocation.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    if inv.args.has("json", "j"):
        inv.sink.out(
            json.dumps(
                {"user": user, "organizations": [], "url": inv.backend.url}, indent=2
            )
        )
    else:
        inv.sink.out(user)
    return 0


# ----------------------------------------------------------------- stack ...
def cmd_stack(inv: Invocation) -> int:
    """Bare ``pulumi stack``: ensure the stack exists and describe it.

    :param inv: Invocation.
    """
    if inv.args.positionals:
        raise StandinError(
            f"`pulumi stack {inv.args.positionals[0]}` is not supported by the stand-in engine"
        )
    ref = inv.stack_ref()
    inv.backend.require(ref)
    resources = inv.backend.read_checkpoint(ref)["checkpoint"]["latest"]["resources"]
    inv.sink.out(f"Current stack is {ref.name}:")
    inv.sink.out(f"    Managed by {inv.backend.url}")
    inv.sink.out(f"    {len(resources)} resources")
    return 0


def check_stack_argument(inv: Invocation) -> None:
    """Refuse a bad project name (``Pulumi.yaml``) or ``--stack``/positional stack name as the CLI does, with its text.

    :param inv: Invocation.
    """
    if inv.project:  # Pulumi.yaml is loaded (and its name checked) first
        problem = names.project_name_problem(inv.project[0])
        if problem:
            raise StandinError(problem)
    name = inv.args.value("stack", "s")
    if name is None and inv.args.positionals:
        name = inv.args.positionals[0]
    problem = names.stack_reference_problem(name, diy=True) if name is not None else None
    if problem:
        raise StandinError(problem)


def cmd_stack_init(inv: Invocation) -> int:
    """``pulumi stack init S [--secrets-provider P] [--no-select]``.

    :param inv: Invocation.
    """
    check_secrets_provider(inv.args.value("secrets-provider"))
    if not (inv.args.positionals or inv.args.value("stack", "s")):
        raise StandinError("a stack name is required: pulumi stack init <name>")
    check_stack_argument(inv)
    ref = inv.stack_ref(positional_ok=True)
    create_stack(inv, ref)
    if not inv.args.has("no-select"):
        inv.backend.select(inv.project_dir, inv.env, ref)
    return 0


def already_exists(ref: StackRef) -> str:
    """The CLI's text for creating a stack that exists (the backend names it fully qualified).

    :param ref: Stack.
    """
    return f"stack '{ref.fqn}' already exists"


def create_stack(inv: Invocation, ref: StackRef) -> None:
    """Create ``ref`` as the CLI's ``CreateStack`` does: under the stack lock (a locked stack fails with the
    locked-stack error), refused when it exists; its ``Pulumi.<stack>.yaml`` (salt) written only once created.

    :param inv: Invocation (``--secrets-provider``).
    :param ref: Stack.
    """
    check_secrets_provider(inv.args.value("secrets-provider"))
    backend = inv.backend
    if backend.exists(ref):
        raise StandinError(already_exists(ref))
    cfg = StackConfig.for_stack(inv.project_dir, ref)
    cipher = cipher_for(cfg.salt, inv.env)
    lock = backend.acquire_lock(ref)
    try:
        if backend.exists(ref):
            raise StandinError(already_exists(ref))
        backend.write_checkpoint(ref, backend.new_checkpoint(ref, cipher.salt_state))
    finally:
        backend.release_lock(lock)
    cfg.doc["encryptionsalt"] = cipher.salt_state
    cfg.save()
    inv.sink.err(f"Created stack '{ref.name}'")  # the CLI reports it on stderr


def cmd_stack_select(inv: Invocation) -> int:
    """``pulumi stack select [--stack] S [--create [--secrets-provider P]]``: a missing stack is an error, or with
    ``--create`` created (as ``stack init`` does) and selected.

    :param inv: Invocation.
    """
    check_stack_argument(inv)
    ref = inv.stack_ref(positional_ok=True)
    if not inv.backend.exists(ref) and inv.args.has("create", "c"):
        create_stack(inv, ref)
    inv.backend.require(ref)
    inv.backend.select(inv.project_dir, inv.env, ref)
    return 0


def _last_update(inv: Invocation, ref: StackRef) -> dict[str, Any] | None:
    history = inv.backend.read_history(ref)
    return history[0] if history else None


def cmd_stack_ls(inv: Invocation) -> int:
    """``pulumi stack ls [--json] [--all]``.

    :param inv: Invocation.
    """
    project = inv.project[0] if inv.project else None
    show_all = inv.args.has("all", "a") or project is None
    refs = inv.backend.list_stacks(None if show_all else project)
    selected = inv.backend.selected(inv.project_dir, inv.env)
    rows = []
    for ref in refs:
        latest = inv.backend.read_checkpoint(ref)["checkpoint"]["latest"]
        row: dict[str, Any] = {
            "name": ref.fqn if show_all else ref.name,
            "current": selected == ref.fqn,
            "updateInProgress": bool(inv.backend.locks(ref)),
            "resourceCount": len(latest.get("resources") or []),
            "url": f"{inv.backend.url}/.pulumi/stacks/{ref.project}/{ref.name}.json",
        }
        last = _last_update(inv, ref)
        if last and last.get("endTime"):
            row["lastUpdate"] = iso_from_unix(last["endTime"])
        rows.append(row)
    if inv.args.has("json", "j"):
        inv.sink.out(json.dumps(rows, indent=4))
        return 0
    inv.sink.out("NAME  LAST UPDATE  RESOURCE COUNT")
    for row in rows:
        star = "*" if row["current"] else ""
        inv.sink.out(
            f"{row['name']}{star}  {row.get('lastUpdate', 'n/a')}  {row['resourceCount']}"
        )
    return 0


def cmd_stack_rm(inv: Invocation) -> int:
    """``pulumi stack rm --yes [--force] [--preserve-config] S``.

    :param inv: Invocation.
    """
    require_yes(inv)
    ref = inv.stack_ref(positional_ok=True)
    backend = inv.backend
    backend.require(ref)
    lock = backend.acquire_lock(ref)
    try:
        resources = backend.read_checkpoint(ref)["checkpoint"]["latest"]["resources"]
        if resources and not inv.args.has("force", "f"):
            raise StandinError(
                f"'{ref.name}' still has resources; removal rejected. Possible actions:\n"
                f"- Make sure that '{ref.name}' is the stack that you want to destroy\n"
                "- Run `pulumi destroy` to delete the resources, then run `pulumi stack rm`\n"
                "- Run `pulumi stack rm --force` to override this error"
            )
        backend.remove_stack(ref)
    finally:
        backend.release_lock(lock)
    if not inv.args.has("preserve-config"):
        cfg_path = StackConfig.for_stack(inv.project_dir, ref).path
        if os.path.exists(cfg_path):
            os.unlink(cfg_path)
    inv.sink.out(f"Stack '{ref.name}' has been removed!")
    return 0


def cmd_stack_rename(inv: Invocation) -> int:
    """``pulumi stack rename NEW [--stack S]``: as the diy backend does, under the stack lock: the checkpoint moves
    to the new name with every URN renamed (``urn:pulumi:<new>::...``, parents, provider references,
    dependencies), its history moves too, and ``Pulumi.<stack>.yaml`` follows; the renamed stack is selected.

    :param inv: Invocation.
    """
    if len(inv.args.positionals) != 1:
        raise StandinError("accepts 1 arg(s), received " + str(len(inv.args.positionals)))
    ref = inv.stack_ref()
    backend = inv.backend
    backend.require(ref)
    new_ref = inv.resolve(inv.args.positionals[0])
    if new_ref.project != ref.project:
        raise StandinError("cannot rename a stack to another project with a file:// backend")
    if backend.exists(new_ref):
        raise StandinError(already_exists(new_ref))
    lock = backend.acquire_lock(ref)
    try:
        checkpoint = backend.read_checkpoint(ref)
        old_prefix, new_prefix = f"urn:pulumi:{ref.name}::", f"urn:pulumi:{new_ref.name}::"
        text = json.dumps(checkpoint).replace(json.dumps(old_prefix)[1:-1], json.dumps(new_prefix)[1:-1])
        # The root stack resource is named <project>-<stack>: it is renamed too.
        root = f"{new_prefix}{ref.project}::{ROOT_STACK_TYPE}::{ref.project}-"
        text = text.replace(root + ref.name + '"', root + new_ref.name + '"')
        renamed = json.loads(text)
        renamed["checkpoint"]["stack"] = new_ref.fqn
        backend.write_checkpoint(new_ref, renamed)
        backend.rename_history(ref, new_ref)
        os.unlink(backend.checkpoint_path(ref))
    finally:
        backend.release_lock(lock)
    old_cfg = StackConfig.for_stack(inv.project_dir, ref).path
    if os.path.exists(old_cfg):
        os.replace(old_cfg, StackConfig.for_stack(inv.project_dir, new_ref).path)
    backend.select(inv.project_dir, inv.env, new_ref)
    inv.sink.out(f"Renamed {ref.fqn} to {new_ref.fqn}")
    return 0


def root_outputs(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """State-form outputs of the root stack resource.

    :param resources: Checkpoint resources.
    """
    for res in resources:
        if res.get("type") == ROOT_STACK_TYPE and not res.get("parent"):
            return dict(res.get("outputs") or {})
    return {}


def _is_state_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def _mask_state(value: Any) -> Any:
    if _is_state_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _mask_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_state(v) for v in value]
    return value


def cmd_stack_output(inv: Invocation) -> int:
    """``pulumi stack output [NAME] [--json] [--show-secrets]``.

    :param inv: Invocation.
    """
    ref = inv.stack_ref()
    inv.backend.require(ref)
    raw = root_outputs(inv.backend.read_checkpoint(ref)["checkpoint"]["latest"]["resources"])
    if inv.args.has("show-secrets") and props.contains_secret(raw):
        cipher = stack_cipher(inv, ref)
        outputs = props.reveal(props.decrypt_value(raw, cipher.decrypt))
    else:
        outputs = _mask_state(raw)
    if inv.args.positionals:
        name = inv.args.positionals[0]
        if name not in outputs:
            raise StandinError(f"current stack does not have output property '{name}'")
        value = outputs[name]
        inv.sink.out(json.dumps(value) if inv.args.has("json", "j") or not isinstance(value, str) else value)
        return 0
    if inv.args.has("json", "j"):
        inv.sink.out(json.dumps(outputs, indent=4))
        return 0
    inv.sink.out(f"Current stack outputs ({len(outputs)}):")
    if not outputs:
        inv.sink.out("    No output values currently in this stack")
    for key, value in outputs.items():
        inv.sink.out(f"    {key}  {value if isinstance(value, str) else json.dumps(value)}")
    return 0


def _history_config(config: dict[str, Any], show: bool, cipher: PassphraseCipher | None) -> dict[str, Any]:
    result = {}
    for key, item in config.items():
        if item.get("secret"):
            entry: dict[str, Any] = {"secret": True}
            if show and cipher is not None and "ciphertext" in item:
                entry["value"] = cipher.decrypt(item["ciphertext"])
            result[key] = entry
        else:
            result[key] = {"value": item.get("value"), "secret": False}
    return result


def cmd_stack_history(inv: Invocation) -> int:
    """``pulumi stack history [--json] [--show-secrets] [--page-size N --page P]``.

    :param inv: Invocation.
    """
    ref = inv.stack_ref()
    inv.backend.require(ref)
    entries = inv.backend.read_history(ref)
    page_size = inv.args.value("page-size")
    if page_size:
        size = int(page_size)
        page = max(int(inv.args.value("page", default="1") or "1"), 1)
        entries = entries[(page - 1) * size : page * size]
    show = inv.args.has("show-secrets")
    needs_cipher = show and any(
        item.get("secret") for e in entries for item in (e.get("config") or {}).values()
    )
    cipher = stack_cipher(inv, ref) if needs_cipher else None
    rows = []
    for entry in entries:
        row: dict[str, Any] = {
            "version": 0,  # like Pulumi's diy backends, which number no updates
            "kind": entry["kind"],
            "startTime": iso_from_unix(entry["startTime"]),
            "message": entry.get("message", ""),
            "environment": entry.get("environment", {}),
            "config": _history_config(entry.get("config") or {}, show, cipher),
            "result": entry["result"],
        }
        if entry.get("endTime") is not None:
            row["endTime"] = iso_from_unix(entry["endTime"])
        if entry.get("resourceChanges") is not None:
            row["resourceChanges"] = entry["resourceChanges"]
        rows.append(row)
    if inv.args.has("json", "j"):
        inv.sink.out(json.dumps(rows, indent=4))
        return 0
    if not rows:
        inv.sink.out("Stack has never been updated")
    for row in rows:
        inv.sink.out(
            f"Version {row['version']}  {row['kind']}  {row['result']}  "
            f"{row['startTime']}  {row['message']}"
        )
    return 0


def cmd_stack_export(inv: Invocation) -> int:
    """``pulumi stack export [--show-secrets] [--file F]``.

    :param inv: Invocation.
    """
    ref = inv.stack_ref()
    inv.backend.require(ref)
    latest = inv.backend.read_checkpoint(ref)["checkpoint"]["latest"]
    if inv.args.has("show-secrets") and props.contains_secret(latest.get("resources")):
        cipher = stack_cipher(inv, ref)
        latest = dict(latest)
        latest["resources"] = props.export_plaintext(
            props.decrypt_value(latest["resources"], cipher.decrypt)
        )
    text = json.dumps({"version": 3, "deployment": latest}, indent=4)
    target = inv.args.value("file")
    if target:
        path = target if os.path.isabs(target) else os.path.join(inv.cwd, target)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        inv.sink.out(text)
    return 0


def cmd_stack_import(inv: Invocation) -> int:
    """``pulumi stack import --file F``.

    :param inv: Invocation.
    """
    ref = inv.stack_ref()
    backend = inv.backend
    backend.require(ref)
    target = inv.args.value("file")
    if not target:
        raise StandinError("the stand-in engine needs `stack import --file FILE`")
    path = target if os.path.isabs(target) else os.path.join(inv.cwd, target)
    data = read_json(path)
    deployment = data.get("deployment")
    if not isinstance(deployment, dict):
        raise StandinError("could not import deployment: missing 'deployment'")
    lock = backend.acquire_lock(ref)
    try:
        checkpoint = backend.read_checkpoint(ref)
        current = checkpoint["checkpoint"]["latest"]
        resources = deployment.get("resources") or []
        if props.contains_secret(resources):
            cipher = stack_cipher(inv, ref)
            resources = props.encrypt_value(
                props.decrypt_value(resources, cipher.decrypt), cipher.encrypt
            )
        latest = dict(deployment)
        latest["resources"] = resources
        latest["secrets_providers"] = current.get("secrets_providers")
        checkpoint["checkpoint"]["latest"] = latest
        backend.write_checkpoint(ref, checkpoint)
    finally:
        backend.release_lock(lock)
    inv.sink.out("Import complete.")
    return 0


# ---------------------------------------------------------------- config ...
def _config_and_cipher(
    inv: Invocation, ref: StackRef, need_cipher: bool
) -> tuple[StackConfig, PassphraseCipher | None]:
    cfg = StackConfig.for_stack(inv.project_dir, ref)
    cipher = cfg.cipher(inv.backend, ref, inv.env) if need_cipher else None
    return cfg, cipher


def _config_json_entry(value: Any, secret: bool, show: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"secret": secret}
    if show or not secret:
        entry["value"] = config_string(value)
        if not isinstance(value, str):
            entry["objectValue"] = value
    return entry


def cmd_config_getall(inv: Invocation) -> int:
    """``pulumi config [--json] [--show-secrets]``.

    :param inv: Invocation.
    """
    if inv.args.positionals:
        raise StandinError(f'unknown command "{inv.args.positionals[0]}" for "pulumi config"')
    ref = inv.stack_ref()
    inv.backend.require(ref)
    show = inv.args.has("show-secrets")
    cfg = StackConfig.for_stack(inv.project_dir, ref)
    cipher = cfg.cipher(inv.backend, ref, inv.env) if (show and cfg.has_secure()) else None
    if show or not cfg.has_secure():
        resolved = cfg.resolved(cipher)
    else:
        resolved = {k: (None, True) if props_secure(v) else (v, False) for k, v in cfg.values.items()}
    if inv.args.has("json", "j"):
        out = {k: _config_json_entry(v, s, show) for k, (v, s) in sorted(resolved.items())}
        inv.sink.out(json.dumps(out, indent=4))
        return 0
    inv.sink.out("KEY  VALUE")
    for key, (value, secret) in sorted(resolved.items()):
        shown = config_string(value) if (show or not secret) else "[secret]"
        inv.sink.out(f"{key.split(':', 1)[1] if key.startswith(ref.project + ':') else key}  {shown}")
    return 0


def props_secure(value: Any) -> bool:
    """True if a raw config value contains encrypted parts.

    :param value: Raw YAML value.
    """
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True
        return any(props_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(props_secure(v) for v in value)
    return False


def cmd_config_get(inv: Invocation) -> int:
    """``pulumi config get K [--json] [--path]``.

    :param inv: Invocation.
    """
    if not inv.args.positionals:
        raise StandinError("a configuration key is required")
    key = inv.args.positionals[0]
    ref = inv.stack_ref()
    inv.backend.require(ref)
    cfg = StackConfig.for_stack(inv.project_dir, ref)
    full = cfg.full_key(key)
    path_mode = inv.args.has("path")
    head = cfg.full_key(key.split(".")[0].split("[")[0]) if path_mode else full
    if head not in cfg.values:
        raise StandinError(f"configuration key '{key}' not found for stack '{ref.name}'")
    raw = cfg.values[head]
    cipher = cfg.cipher(inv.backend, ref, inv.env) if props_secure(raw) else None
    value, secret = resolve_raw(raw, cipher)
    if path_mode and head != full:
        rest = key[len(key.split(".")[0].split("[")[0]):]
        for seg in parse_path(rest.lstrip(".")) if rest else []:
            try:
                value = value[seg]
            except (KeyError, IndexError, TypeError):
                raise StandinError(
                    f"configuration key '{key}' not found for stack '{ref.name}'"
                ) from None
    if inv.args.has("json", "j"):
        inv.sink.out(json.dumps(_config_json_entry(value, secret, True), indent=4))
    else:
        inv.sink.out(config_string(value))
    return 0


def cmd_config_set(inv: Invocation) -> int:
    """``pulumi config set K [--secret|--plaintext] [--path] [--] V``.

    :param inv: Invocation.
    """
    pos = inv.args.positionals
    if len(pos) < 2:
        raise StandinError("`pulumi config set` needs a key and a value")
    key, value = pos[0], pos[1]
    secret = inv.args.has("secret")
    ref = inv.stack_ref()
    inv.backend.require(ref)
    cfg, cipher = _config_and_cipher(inv, ref, secret)
    cfg.set(key, value, secret, inv.args.has("path"), cipher)
    cfg.save()
    return 0


def cmd_config_set_all(inv: Invocation) -> int:
    """``pulumi config set-all [--path] (--plaintext k=v | --secret k=v)... | --json J``.

    :param inv: Invocation.
    """
    ref = inv.stack_ref()
    inv.backend.require(ref)
    items: list[tuple[str, str, bool]] = []
    for flag, pair in inv.args.items("plaintext", "secret", "json"):
        if flag == "json":
            for key, entry in json.loads(pair).items():
                if isinstance(entry, dict):
                    raw = entry.get("objectValue", entry.get("value"))
                    items.append((key, config_string(raw), bool(entry.get("secret"))))
                else:
                    items.append((key, config_string(entry), False))
            continue
        key, eq, value = pair.partition("=")
        if not eq:
            raise StandinError(f"could not parse {flag} value: expected key=value")
        items.append((key, value, flag == "secret"))
    any_secret = any(secret for _, _, secret in items)
    cfg, cipher = _config_and_cipher(inv, ref, any_secret)
    for key, value, secret in items:
        cfg.set(key, value, secret, inv.args.has("path"), cipher)
    cfg.save()
    return 0


def cmd_config_rm(inv: Invocation) -> int:
    """``pulumi config rm K [--path]`` and ``config rm-all K...``.

    :param inv: Invocation.
    """
    if not inv.args.positionals:
        raise StandinError("a configuration key is required")
    ref = inv.stack_ref()
    inv.backend.require(ref)
    cfg = StackConfig.for_stack(inv.project_dir, ref)
    for key in inv.args.positionals:
        cfg.remove(key, inv.args.has("path"))
    cfg.save()
    return 0


def cmd_cancel(inv: Invocation) -> int:
    """``pulumi cancel --yes [--stack S | -- S]``: delete the stack's lock files.

    :param inv: Invocation.
    """
    require_yes(inv)
    ref = inv.stack_ref(positional_ok=True)
    inv.backend.require(ref)
    removed = inv.backend.clear_locks(ref)
    if removed:
        inv.sink.out(f"The currently running update for '{ref.name}' has been canceled!")
    else:
        inv.sink.out(f"No update in progress for '{ref.name}'; nothing to cancel.")
    return 0


def cmd_plugin_ls(inv: Invocation) -> int:
    """``pulumi plugin ls [--json]``: the stand-in uses no plugins.

    :param inv: Invocation.
    """
    inv.sink.out("[]" if inv.args.has("json", "j") else "No plugins installed (stand-in engine).")
    return 0


#: Why the stand-in installs no plugin, and what to set instead (the library pre-installs by ``[pulumi] plugins``).
NO_PLUGINS = (
    "the stand-in engine runs no provider plugins, so it installs none: set [pulumi] plugins = none "
    "(AIRFLOW__PULUMI__PLUGINS=none) where tasks run on it"
)


def cmd_plugin_install(inv: Invocation) -> int:
    """``pulumi plugin install KIND NAME [VERSION]``: refused, saying what to configure instead.

    :param inv: Invocation.
    """
    raise StandinError(NO_PLUGINS)
