"""Parsing of ``pulumi`` argv the way the Automation API builds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .sink import StandinError

#: The command tree the stand-in understands; a leaf maps to ``{}``.
COMMAND_TREE: dict[str, dict[str, Any]] = {
    "version": {},
    "whoami": {},
    "up": {},
    "update": {},
    "preview": {},
    "refresh": {},
    "destroy": {},
    "cancel": {},
    "stack": {
        "init": {},
        "select": {},
        "ls": {},
        "rm": {},
        "output": {},
        "history": {},
        "export": {},
        "import": {},
        "rename": {},
        "tag": {"get": {}, "set": {}, "rm": {}, "ls": {}},
    },
    "config": {"get": {}, "set": {}, "set-all": {}, "rm": {}, "rm-all": {}},
    "plugin": {"ls": {}, "install": {}},
}

# Flags that consume the next token as their value (cobra flags of the real CLI).
_VALUE_FLAGS = {
    "--stack", "-s", "--message", "-m", "--target", "-t", "--exclude",
    "--replace", "--policy-pack", "--policy-pack-config", "--parallel", "-p",
    "--client", "--exec-kind", "--event-log", "--color", "--secrets-provider",
    "--page-size", "--page", "--file", "--secret", "--plaintext", "--verbose",
    "-v", "--tracing", "--config-file", "--plan", "--save-plan", "--import-file",
    "--dest", "--otel-traces", "--tracing-header", "--profiling",
    "--memprofilerate", "--output", "-o", "--cwd", "-C", "--copy-config-from",
    "--remote-env", "--remote-env-secret", "--remote-git-branch",
    "--remote-git-commit", "--remote-git-repo-dir", "--remote-pre-run-command",
    "--remote-git-auth-access-token", "--remote-git-auth-ssh-private-key",
    "--remote-git-auth-ssh-private-key-path", "--remote-git-auth-password",
    "--remote-git-auth-username", "--remote-executor-image",
    "--remote-executor-image-username", "--remote-executor-image-password",
    "--remote-agent-pool-id",
}

# Flags the stand-in knows (with or without values); others are recorded.
_BOOL_FLAGS = {
    "--non-interactive", "--yes", "-y", "--skip-preview", "--expect-no-changes",
    "--refresh", "--json", "-j", "--show-secrets", "--force", "-f",
    "--preserve-config", "--path", "--diff", "--target-dependents",
    "--exclude-dependents", "--logflow", "--logtostderr", "--debug", "-d",
    "--suppress-outputs", "--suppress-progress", "--continue-on-error",
    "--attach-debugger", "--preview-only", "--remove", "--exclude-protected",
    "--clear-pending-creates", "--all", "-a", "--no-select", "--help", "-h",
    "--disable-integrity-checking", "--fully-qualify-stack-names",
    "--run-program", "--shell", "--emoji", "--remote", "--show-urns",
    "--show-ids", "--show-name", "--show-config", "--show-reads",
    "--show-replacement-steps", "--show-sames", "--stack-only", "--insecure", "--remote-skip-install-dependencies",
    "--remote-inherit-settings", "--generate-only", "--create", "-c",
}


@dataclass
class ParsedArgs:
    """Result of parsing argv.

    :param command: Command path, e.g. ``["stack", "init"]``.
    :param positionals: Positional arguments (including everything after ``--``).
    :param flags: Flag name (without leading dashes) -> list of values
        (``"true"`` for boolean flags).
    :param unknown_flags: Flags the stand-in does not know; accepted and recorded.
    """

    command: list[str] = field(default_factory=list)
    positionals: list[str] = field(default_factory=list)
    flags: dict[str, list[str]] = field(default_factory=dict)
    unknown_flags: list[str] = field(default_factory=list)
    ordered_flags: list[tuple[str, str]] = field(default_factory=list)

    def has(self, *names: str) -> bool:
        """True if any of the flags was given (and not ``=false``).

        :param names: Flag names without leading dashes.
        """
        for name in names:
            values = self.flags.get(name)
            if values and values[-1].lower() not in ("false", "0"):
                return True
        return False

    def value(self, *names: str, default: str | None = None) -> str | None:
        """Last value of the first given flag found.

        :param names: Flag names without leading dashes.
        :param default: Returned when none was given.
        """
        for name in names:
            values = self.flags.get(name)
            if values:
                return values[-1]
        return default

    def values(self, *names: str) -> list[str]:
        """All values of the given flags, in argv order.

        :param names: Flag names without leading dashes.
        """
        wanted = set(names)
        return [v for (k, v) in self.ordered_flags if k in wanted]

    def items(self, *names: str) -> list[tuple[str, str]]:
        """(flag, value) pairs of the given flags, in argv order.

        :param names: Flag names without leading dashes.
        """
        wanted = set(names)
        return [(k, v) for (k, v) in self.ordered_flags if k in wanted]


def _flag_takes_value(flag: str, command: list[str]) -> bool:
    # `config set-all` is the one place --json/--secret/--plaintext carry values
    # (elsewhere, e.g. `config set K --secret -- V`, they are booleans).
    if flag in ("--json", "--secret", "--plaintext"):
        return command[:2] == ["config", "set-all"]
    return flag in _VALUE_FLAGS


def parse_args(argv: list[str]) -> ParsedArgs:
    """Parse ``pulumi`` argv (without the program name).

    :param argv: Arguments as the Automation API passes them.
    :raises StandinError: On an unknown command or a flag missing its value.
    """
    parsed = ParsedArgs()
    level: dict[str, dict[str, Any]] = COMMAND_TREE
    path_open = True
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if token == "--":
            parsed.positionals.extend(argv[i:])
            break
        if token.startswith("-") and token != "-":
            name, eq, inline_value = token.partition("=")
            if eq:
                value = inline_value
            elif _flag_takes_value(name, parsed.command):
                if i >= len(argv):
                    raise StandinError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            else:
                value = "true"
            if name not in _VALUE_FLAGS and name not in _BOOL_FLAGS:
                parsed.unknown_flags.append(token)
            key = name.lstrip("-")
            parsed.flags.setdefault(key, []).append(value)
            parsed.ordered_flags.append((key, value))
            continue
        if path_open and token in level:
            parsed.command.append(token)
            level = level[token]
            if not level:
                path_open = False
            continue
        if path_open and not parsed.command:
            raise StandinError(f'unknown command "{token}" for "pulumi"')
        path_open = False
        parsed.positionals.append(token)
    return parsed
