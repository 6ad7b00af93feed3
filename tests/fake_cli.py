"""Small fake ``pulumi`` executables for tests of one CLI behaviour at a time."""

import stat
import textwrap


def fake_cli(folder, body: str, version: str = "v3.272.0"):
    """Write ``folder/pulumi``: answers ``version`` with ``version``, runs ``body`` (sh) for anything else."""
    path = folder / "pulumi"
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "version" ]; then echo "{version}"; exit 0; fi\n'
        + textwrap.dedent(body)
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path
