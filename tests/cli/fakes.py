"""Fake ``pulumi`` executables, installers and plugin folders for the CLI tests."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

from semver import VersionInfo

SDK_MIN = VersionInfo.parse("3.1.0")
REPO = Path(__file__).resolve().parents[2]


def version_cli(folder: Path, version: str, *, log: Path | None = None, body: str = "exit 0\n") -> Path:
    """``folder/pulumi`` printing ``version``; logs every invocation's argv (and PULUMI_HOME) to ``log``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pulumi"
    record = f'echo "$* | $PULUMI_HOME" >> "{log}"\n' if log else ""
    path.write_text(f"#!/bin/sh\n{record}" f'if [ "$1" = "version" ]; then echo "{version}"; exit 0; fi\n' + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def fake_installer(calls: list):
    """An installer (the seam: ``installer(root, version)`` leaves ``<root>/bin/pulumi``) that records its calls."""

    def install(root, version):
        calls.append((root, version))
        version_cli(Path(root) / "bin", f"v{version}")

    return install


#: ``pulumi plugin install`` into ``$PULUMI_HOME/plugins``, logged to ``$PLUGIN_LOG``
#: (``OVERLAP`` when two installs run at once; the plugin ``broken`` fails).
PLUGIN_CLI_BODY = textwrap.dedent(
    """\
    if [ "$1" = "plugin" ] && [ "$2" = "install" ]; then
      dir="$PULUMI_HOME/plugins/$3-$4-v$5"
      if [ -e "$PULUMI_HOME/plugins/.busy" ]; then echo OVERLAP >> "$PLUGIN_LOG"; fi
      touch "$PULUMI_HOME/plugins/.busy"
      echo "install $4 $5" >> "$PLUGIN_LOG"
      if [ "$4" = "broken" ]; then rm -f "$PULUMI_HOME/plugins/.busy"; echo "error: 404 not found" >&2; exit 255; fi
      sleep 0.2
      mkdir -p "$dir"
      rm -f "$dir.partial" "$PULUMI_HOME/plugins/.busy"
      exit 0
    fi
    exit 0
    """
)


def plugin_home(tmp_path: Path) -> tuple[Path, Path]:
    """A per-task-like PULUMI_HOME whose plugins folder links to a shared cache."""
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    home = tmp_path / f"home-{os.urandom(3).hex()}"
    home.mkdir()
    (home / "plugins").symlink_to(cache)
    return home, cache
