"""The Pulumi view in Airflow's UI: an Airflow plugin (:mod:`.plugin`) whose FastAPI app, mounted by the
api-server under ``/pulumi``, shows the stacks the deployment's DAGs touched, each stack (outputs, update
history, resources, lock holder, last drift check) and each stack task (operation, summary, a preview's
property diff, outputs) — as JSON (``/pulumi/api/...``) and as plain HTML pages the UI shows in a frame.

It reads only what Airflow's metadata database holds — our tasks' XComs (``pulumi_summary``,
``pulumi_target``, ``return_value``), the stacks' asset events and the task instances — never a backend, so
the api-server needs no cloud credential or passphrase. Secret outputs are shown as "withheld", never their
value. Every endpoint enforces Airflow's authentication and shows only the DAGs the user may read.

This package is a leaf: nothing of the task's flow imports it but :mod:`.urls` (the stack page's address,
for the extra link). Importing the plugin loads neither FastAPI nor the database models: the app is built on
its first request.
"""
