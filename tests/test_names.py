"""Pulumi's name rules (names.py): the texts match the real CLI's, and the stand-in refuses what it refuses.

The expected texts were read off ``pulumi stack init`` / ``pulumi stack select --stack`` of Pulumi v3.274.1 on a
file backend; ``test_real_cli_and_standin_say_the_same`` re-checks them whenever a real CLI is available.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from airflow_pulumi_decorators import names
from airflow_pulumi_decorators.testing.standin.cli import run_cli
from airflow_pulumi_decorators.testing.standin.sink import Sink
from tests.engines import NO_REAL_CLI, real_pulumi

CHARS = "a stack name may only contain alphanumeric, hyphens, underscores, or periods: invalid character"
#: stack reference -> what Pulumi (diy backend, project 'infra') says about it.
BAD_REFERENCES = {
    "my bad": f"{CHARS} ' ' at position 2",
    "!x": f"{CHARS} '!' at position 0",
    "mybad%": f"{CHARS} '%' at position 5",
    "dév": f"{CHARS} 'Ã' at position 1",  # Go reports the first byte of 'é'
    "a" * 101: "a stack name cannot exceed 100 characters",
    "a/b/c/d": "a stack name may not be empty",
    "organization/infra/": "a stack name may not be empty",
    "other/dev": "organization name must be 'organization'",
    "feature/login": "organization name must be 'organization'",
    "organization/Other Proj/dev": "project names may only contain alphanumerics, hyphens, underscores, and periods",
    "organization/infra/a b": f"{CHARS} ' ' at position 1",
}
GOOD_REFERENCES = ["dev", "a" * 100, "pr-12.x_y", "organization/dev", "organization/infra/dev", "organization/1x/-y"]


@pytest.mark.parametrize("reference", list(BAD_REFERENCES))
def test_bad_stack_references_get_pulumis_text(reference):
    assert names.stack_reference_problem(reference, diy=True) == BAD_REFERENCES[reference]


@pytest.mark.parametrize("reference", GOOD_REFERENCES)
def test_good_stack_references_pass(reference):
    assert names.stack_reference_problem(reference, diy=True) is None


def test_organizations_are_left_to_the_backend_unless_diy():
    assert names.stack_reference_problem("acme/dev") is None
    assert names.stack_reference_problem("acme/dev", diy=True) == "organization name must be 'organization'"


@pytest.mark.parametrize(
    ("project", "problem"),
    [
        ("", "project names may not be empty"),
        ("a" * 101, "project names are limited to 100 characters"),
        ("my proj", "project names may only contain alphanumerics, hyphens, underscores, and periods"),
        ("ünï", "project names may only contain alphanumerics, hyphens, underscores, and periods"),
        ("1proj", None),  # the CLI accepts a leading digit or '-'
        ("-proj", None),
        ("proj.x_y-z", None),
    ],
)
def test_project_names(project, problem):
    assert names.project_name_problem(project) == problem


def _standin(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    sink = Sink()
    run_cli(argv, env, str(cwd), sink, "in-process")
    return "\n".join(sink.err_lines)


def _workdir(tmp_path: Path, project_name: str = "infra") -> tuple[Path, dict[str, str]]:
    state, project = tmp_path / "state", tmp_path / "project"
    state.mkdir(parents=True)
    project.mkdir()
    (project / "Pulumi.yaml").write_text(f"name: {project_name!r}\nruntime: python\n")
    env = {
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": "names-test",
        "PULUMI_HOME": str(tmp_path / "home"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PATH": "/usr/bin:/bin",
    }
    return project, env


@pytest.mark.parametrize("command", [["stack", "init"], ["stack", "select", "--stack"]])
@pytest.mark.parametrize("reference", list(BAD_REFERENCES))
def test_standin_refuses_bad_names_with_the_clis_text(tmp_path, command, reference):
    project, env = _workdir(tmp_path)
    assert _standin([*command, reference, "--non-interactive"], project, env) == f"error: {BAD_REFERENCES[reference]}"


PROJECT_TEXT = "project names may only contain alphanumerics, hyphens, underscores, and periods"


@pytest.mark.parametrize("command", [["stack", "init"], ["stack", "select", "--stack"]])
def test_standin_refuses_a_bad_project_name_first(tmp_path, command):
    project, env = _workdir(tmp_path, "my proj")
    assert _standin([*command, "bad name", "--non-interactive"], project, env) == f"error: {PROJECT_TEXT}"


def test_real_cli_and_standin_say_the_same(tmp_path):
    cli = real_pulumi()
    if cli is None:
        pytest.skip(NO_REAL_CLI)
    cases = [("infra", reference, text) for reference, text in BAD_REFERENCES.items()]
    cases += [("my proj", "dev", PROJECT_TEXT), ("my proj", "bad name", PROJECT_TEXT)]
    for index, (project_name, reference, text) in enumerate(cases):
        project, env = _workdir(tmp_path / str(index), project_name)
        for command in (["stack", "init"], ["stack", "select", "--stack"]):
            argv = [*command, reference, "--non-interactive"]
            real = subprocess.run([cli, *argv], cwd=project, env=env, capture_output=True, text=True, timeout=60)
            assert real.returncode != 0
            assert real.stderr.strip().splitlines()[-1] == f"error: {text}", (reference, real.stderr)
            assert _standin(argv, project, env) == f"error: {text}"
