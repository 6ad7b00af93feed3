#!/usr/bin/env python
"""Run the quickstart DAG once with ``dag.test()`` on the embedded defaults and print what flowed.

- Airflow: a private ``AIRFLOW_HOME`` in ``.airflow-demo/`` (SQLite, migrated on first use).
- Pulumi state: the embedded default, a ``file://`` backend under ``$AIRFLOW_HOME/pulumi/state``.
- Engine: a real ``pulumi`` on PATH when there is one; otherwise the offline stand-in
  (``pulumi-standin``), which records state and creates nothing — the script says which.

Usage: ``python examples/quickstart/run.py [dev|staging]``. Run it twice: the second run changes nothing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
HOME = Path(os.environ.get("QUICKSTART_AIRFLOW_HOME", REPO / ".airflow-demo"))


def _choose_engine() -> str:
    real = shutil.which("pulumi")
    if real and "pulumi-standin" not in os.path.realpath(real):
        return f"real Pulumi CLI at {real}"
    standin = shutil.which("pulumi-standin") or str(Path(sys.executable).with_name("pulumi-standin"))
    bin_dir = HOME / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / "pulumi"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(standin)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    # The stand-in runs no provider plugins, so there are none to pre-install (docs/standin.md).
    os.environ.setdefault("AIRFLOW__PULUMI__PLUGINS", "none")
    return "offline stand-in engine (pulumi-standin): no Pulumi CLI on PATH; it records state, creates nothing"


def main() -> int:
    env = sys.argv[1] if len(sys.argv) > 1 else "dev"
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
    )
    if not os.environ.get("PULUMI_CONFIG_PASSPHRASE") and not os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        # The local file backend encrypts secrets with a passphrase; this one is for the demo only.
        os.environ["PULUMI_CONFIG_PASSPHRASE"] = "quickstart-demo-only"
        print("quickstart: PULUMI_CONFIG_PASSPHRASE not set; using a demo-only passphrase")
    print(f"quickstart: engine: {_choose_engine()}")
    print(f"quickstart: AIRFLOW_HOME={HOME}; Pulumi state under {HOME / 'pulumi' / 'state'}")
    if not (HOME / ".migrated").exists():
        print("quickstart: airflow db migrate (first run only) ...")
        subprocess.run([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], check=True,
                       stdout=subprocess.DEVNULL)
        (HOME / ".migrated").touch()

    spec = importlib.util.spec_from_file_location("quickstart_dag", HERE / "dags" / "quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from airflow.sdk import DAG

    dag = next(v for v in vars(module).values() if isinstance(v, DAG))
    run = dag.test(run_conf={"env": env})

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag.dag_id, XComModel.run_id == run.run_id).all()
        xcoms = {(r.task_id, r.key): r.value for r in rows}
    print()
    print(f"quickstart: run {run.run_id} on environment {env!r}: {run.state}")
    for (task_id, key), value in sorted(xcoms.items()):
        if key.startswith("_link_") or key in ("pulumi_summary", "pulumi_target"):  # for the UI, not outputs
            continue
        if key != "return_value" or task_id == "load":
            print(f"  {task_id}[{key!r}] = {value!r}")
    return 0 if str(run.state) in ("success", "DagRunState.SUCCESS") else 1


if __name__ == "__main__":
    sys.exit(main())
