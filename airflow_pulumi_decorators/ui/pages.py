"""The Pulumi view's HTML pages: server-rendered from the same JSON the API returns (no script, no build step),
shown by Airflow's UI in a frame. Every value is escaped; links to Airflow's own pages open in the top window.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from airflow_pulumi_decorators.ui.urls import URL_PREFIX

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px;color:#1a202c;font-size:14px}
h1{font-size:20px;margin:0 0 12px} h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;margin-bottom:8px}
th,td{border-bottom:1px solid #e2e8f0;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f7fafc;font-weight:600} a{color:#2b6cb0}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f7fafc;border:1px solid #e2e8f0;padding:8px;overflow-x:auto}
.withheld{color:#718096;font-style:italic} .locked{color:#c53030;font-weight:600}
.drift{color:#c05621;font-weight:600} .ok{color:#2f855a} .muted{color:#718096}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px} dt{font-weight:600}
"""


def _here(prefix: str, path: str) -> str:
    """A view path (``/pulumi/...``) below the prefix the request came through (a proxy's base path)."""
    return prefix + path[len(URL_PREFIX):] if path.startswith(URL_PREFIX) else path


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body>{body}</body></html>")


def _a(href: str | None, text: str, *, top: bool = False) -> str:
    if not href:
        return escape(text)
    target = ' target="_top"' if top else ""
    return f'<a href="{escape(href)}"{target}>{escape(text)}</a>'


def _text(value: Any) -> str:
    if value is None:
        return '<span class="muted">–</span>'
    if isinstance(value, (dict, list)):
        return f"<code>{escape(json.dumps(value, sort_keys=True, default=str))}</code>"
    return escape(str(value))


def _changes(changes: Mapping[str, int] | None) -> str:
    if not changes:
        return '<span class="muted">none</span>'
    return escape(", ".join(f"{op}={n}" for op, n in sorted(changes.items())))


def _drift(drift: Mapping[str, Any] | None) -> str:
    if drift is None:
        return '<span class="muted">never checked</span>'
    if drift["drift"]:
        names = ", ".join(f"{r['op']} {r['name']}" for r in drift["resources"]) or _changes(drift["changes"])
        return f'<span class="drift">drift</span> ({escape(names)}) {_text(drift["when"])}'
    return f'<span class="ok">no drift</span> {_text(drift["when"])}'


def _lock(row: Mapping[str, Any], base: str) -> str:
    if not row["locked"]:
        return '<span class="ok">unlocked</span>'
    holders = ", ".join(_a(base + h["airflow_path"], f"{h['dag_id']} / {h['run_id']} / {h['task_id']}", top=True)
                        for h in row["lock_holders"])
    return f'<span class="locked">locked</span> by {holders}'


def _outputs(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="muted">No outputs.</p>'
    cells = "".join(
        f"<tr><td><code>{escape(r['key'])}</code></td><td>"
        + ('<span class="withheld">withheld (secret)</span>' if r["withheld"] else _text(r["value"]))
        + "</td></tr>"
        for r in rows
    )
    return f'<table class="outputs"><tr><th>Output</th><th>Value</th></tr>{cells}</table>'


def stacks_page(rows: Sequence[Mapping[str, Any]], *, prefix: str, base: str) -> str:
    """The stacks index.

    :param rows: :func:`~.views.stacks_index`.
    :param prefix: the view's path prefix (``/pulumi`` behind the api-server's base path).
    :param base: the base path of Airflow's UI (for links to its pages).
    """
    body = ["<h1>Pulumi stacks</h1>"]
    if not rows:
        body.append('<p class="muted">No stack task of a DAG you may read has run yet.</p>')
    else:
        body.append("<table id=\"stacks\"><tr><th>Project</th><th>Stack</th><th>Backend</th><th>Last operation</th>"
                    "<th>Resources</th><th>Lock</th><th>Drift</th></tr>")
        for row in rows:
            last = row["last_operation"]
            last_text = (f"{_text(last['operation'])} ({_text(last['state'])}) {_text(last['when'])}"
                         if last else _text(None))
            body.append(
                f"<tr><td>{escape(row['project'])}</td><td>{_a(_here(prefix, row['path']), row['stack'])}"
                f"</td><td><code>{_text(row['backend'])}</code></td><td>{last_text}</td>"
                f"<td>{_text(row['resource_count'])}</td><td>{_lock(row, base)}</td>"
                f"<td>{_drift(row['drift'])}</td></tr>"
            )
        body.append("</table>")
    return _page("Pulumi stacks", "".join(body))


def stack_page(row: Mapping[str, Any], *, prefix: str, base: str) -> str:
    """One stack's page.

    :param row: :func:`~.views.stack_detail`.
    :param prefix: the view's path prefix.
    :param base: the base path of Airflow's UI.
    """
    body = [
        f'<p>{_a(prefix + "/stacks", "← all stacks")}</p>',
        f"<h1>Stack {escape(row['project'])} / {escape(row['stack'])}</h1>",
        "<dl>",
        f"<dt>Backend</dt><dd><code>{_text(row['backend'])}</code></dd>",
        f"<dt>Lock</dt><dd id=\"lock\">{_lock(row, base)}</dd>",
        f"<dt>Last drift check</dt><dd id=\"drift\">{_drift(row['drift'])}</dd>",
        f"<dt>Asset</dt><dd><code>{escape(row['asset_uri'])}</code></dd>",
        "</dl>",
        "<h2>Outputs</h2>",
    ]
    if row["outputs_from"]:
        src = row["outputs_from"]
        body.append(f'<p class="muted">From {_a(_here(prefix, src["pulumi_path"]), src["task_id"])} '
                    f"({escape(src['run_id'])}).</p>")
    body.append(_outputs(row["outputs"]))
    body.append("<h2>Resources</h2>")
    resources = row["resources"]
    if resources is None:
        body.append('<p class="muted">Not known yet: no <code>up</code> of this stack has finished.</p>')
    elif not resources:
        body.append('<p class="muted">None.</p>')
    else:
        body.append('<table id="resources"><tr><th>Type</th><th>Name</th></tr>' + "".join(
            f"<tr><td><code>{escape(r['type'])}</code></td><td>{escape(r['name'])}</td></tr>" for r in resources
        ) + "</table>")
    body.append('<h2>History</h2><table id="history"><tr><th>When</th><th>Operation</th><th>State</th>'
                "<th>Changes</th><th>Version</th><th>Task</th></tr>")
    for h in row["history"]:
        task = h["task"]
        # A task still running (or one that failed before its summary) has no changes to show yet.
        changes = _changes(h["changes"]) if h["has_changes"] is not None else _text(None)
        body.append(
            f"<tr><td>{_text(h['when'])}</td><td>{_a(_here(prefix, task['pulumi_path']), h['label'])}"
            f"</td><td>{_text(h['state'])}</td><td>{changes}</td><td>{_text(h['version'])}</td>"
            f"<td>{_a(base + task['airflow_path'], task['dag_id'] + ' / ' + task['task_id'], top=True)}</td></tr>"
        )
    body.append("</table>")
    return _page(f"Pulumi stack {row['project']}/{row['stack']}", "".join(body))


def task_page(detail: Mapping[str, Any], *, prefix: str, base: str) -> str:
    """One stack task's page.

    :param detail: :func:`~.views.task_detail`.
    :param prefix: the view's path prefix.
    :param base: the base path of Airflow's UI.
    """
    task = detail["task"]
    stack_link = (_a(_here(prefix, detail["stack_path"]), f"{detail['project']} / {detail['stack']}")
                  if detail["stack_path"] else _text(None))
    body = [
        f"<h1>Pulumi {escape(detail['operation'] or 'task')}: {escape(task['task_id'])}</h1>",
        "<dl>",
        f"<dt>Stack</dt><dd id=\"stack\">{stack_link}</dd>",
        f"<dt>Environment</dt><dd>{_text(detail['environment'])}</dd>",
        f"<dt>Backend</dt><dd><code>{_text(detail['backend'])}</code></dd>",
        f"<dt>State</dt><dd>{_text(task['state'])}"
        + (' <span class="locked">(holds the stack\'s lock)</span>' if detail["holds_lock"] else "") + "</dd>",
        "</dl>",
    ]
    summary = detail["summary"]
    if summary is not None:
        body.append("<h2>Summary</h2><dl id=\"summary\">" + "".join(
            f"<dt>{escape(k)}</dt><dd>{_changes(v) if k == 'changes' else _text(v)}</dd>"
            for k, v in summary.items() if k not in ("project", "stack")
        ) + "</dl>")
    if detail["operation"] == "up":
        body.append("<h2>Outputs</h2>" + _outputs(detail["outputs"]))
    elif summary is not None:
        body.append("<h2>Changes</h2>")
        if detail["diff"]:
            body.append(f'<pre id="diff">{escape(chr(10).join(detail["diff"]))}</pre>')
        else:
            body.append('<p class="muted">No changes.</p>')
    return _page(f"Pulumi {detail['operation']} {task['task_id']}", "".join(body))


def message_page(title: str, message: str, *, prefix: str) -> str:
    """A refusal or a miss, as a page (the task tab is on every task instance, stack task or not).

    :param title: the heading.
    :param message: what happened.
    :param prefix: the view's path prefix.
    """
    return _page(title, f'<p>{_a(prefix + "/stacks", "← all stacks")}</p><h1>{escape(title)}</h1>'
                        f'<p class="muted">{escape(message)}</p>')
