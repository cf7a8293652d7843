"""The dashboard's HTML: page shell, login form and one renderer per section. Pure rendering.

Every piece of text that came from outside (post text, names, reasons, errors) goes through
`html.escape` here and nowhere else. Rows carry `data-post-id` and status cells `data-field="status"`
so that the page's script can update them from the live feed without a reload.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import date, datetime
from importlib.resources import files
from string import Template
from typing import Any

from aiohttp import web

from services.hub.chart import hourly_chart
from services.hub.dashboard_data import CALENDAR_ZONE, error_message
from shared.post_input import MAX_TEXT_CHARS
from shared.statuses import DELIVERY_RANK, DELIVERY_TERMINAL, POST_RANK, POST_TERMINAL

__all__ = [
    "agencies_section",
    "calendar_section",
    "chart_section",
    "dashboard_body",
    "failures_section",
    "html_response",
    "login_body",
    "posts_section",
    "queue_section",
    "reauth_section",
    "stats_section",
    "throttled_section",
]

POST_ORDER = (*POST_RANK, *POST_TERMINAL)
DELIVERY_ORDER = (*DELIVERY_RANK, *DELIVERY_TERMINAL)
# Scripts and styles only from the hub itself; no framing, forms post only back to the hub.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _template(name: str) -> Template:
    return Template(files("services.hub").joinpath("templates", name).read_text(encoding="utf-8"))


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def html_response(title: str, body: str, status: int = 200, head: str = "") -> web.Response:
    page = _template("page.html").substitute(title=e(title), body=body, head=head)
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


def login_body(login_token: str, error: str | None) -> str:
    message = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    return _template("login.html").substitute(login_token=e(login_token), error=message)


def dashboard_body(who: str, csrf: str, notice: str, sections: dict[str, tuple[str, str]]) -> str:
    """`sections`: name → (title, inner HTML); each becomes a <section> the script can refresh."""
    blocks = "\n".join(
        f'<section id="s-{name}" data-section="{name}" aria-labelledby="h-{name}">'
        f'<h2 id="h-{name}">{e(title)}</h2><div class="body">{inner}</div></section>'
        for name, (title, inner) in sections.items()
    )
    return _template("dashboard.html").substitute(who=e(who), csrf=e(csrf), notice=e(notice), sections=blocks)


def when(iso: str | None) -> str:
    """A stored UTC time as the moderators read it (Paris time), with the exact time on hover."""
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    local = moment.astimezone(CALENDAR_ZONE).strftime("%d %b %H:%M:%S")
    return f'<time datetime="{e(iso)}">{e(local)}</time>'


def _status(status: str) -> str:
    return f'<span data-field="status" class="status status-{e(status)}">{e(status)}</span>'


def _table(head: tuple[str, ...], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{e(empty)}</p>'
    cells = "".join(f"<th scope='col'>{e(h)}</th>" for h in head)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _counts_table(label: str, counts: dict[str, Counter[str]], order: tuple[str, ...], empty: str) -> str:
    columns = [s for s in order if any(c[s] for c in counts.values())]
    rows = [
        f"<tr><th scope='row'>{e(key)}</th>"
        + "".join(f"<td class='num'>{c[s] or ''}</td>" for s in columns)
        + f"<td class='num'>{sum(c.values())}</td></tr>"
        for key, c in counts.items()
    ]
    return _table((label, *columns, "total"), rows, empty)


def stats_section(posts: dict[str, Counter[str]], deliveries: dict[str, Counter[str]]) -> str:
    totals: Counter[str] = sum(posts.values(), Counter())
    badges = "".join(
        f'<li class="status-{e(s)}"><strong>{totals[s]}</strong> {e(s)}</li>' for s in POST_ORDER if totals[s]
    )
    return (
        f'<ul class="badges">{badges}</ul><h3>Posts per agency</h3>'
        + _counts_table("agency", posts, POST_ORDER, "No post yet.")
        + "<h3>Deliveries per network</h3>"
        + _counts_table("network", deliveries, DELIVERY_ORDER, "No delivery yet.")
    )


def _edit_box(original: str | None) -> str:
    """The text as the advisor wrote it, editable: approving a changed text edits then approves."""
    if original is None:
        return ""
    return (
        '<details class="edit"><summary>Edit before approving</summary>'
        f'<textarea name="text" rows="4" cols="40" maxlength="{MAX_TEXT_CHARS}">{e(original)}</textarea>'
        "</details>"
    )


def queue_section(items: list[dict[str, Any]], csrf: str, can_act: bool) -> str:
    rows = []
    for item in items:
        pid = e(item["post_id"])
        actions = (
            f'<form method="post" action="/dashboard/queue/{pid}/approve" data-enhance>'
            f'<input type="hidden" name="csrf" value="{e(csrf)}">'
            + _edit_box(item.get("original"))
            + '<button class="approve">Approve</button></form>'
            f'<form method="post" action="/dashboard/queue/{pid}/reject" data-enhance class="reject">'
            f'<input type="hidden" name="csrf" value="{e(csrf)}">'
            '<label>Reason <input name="reason" required maxlength="1000"></label>'
            '<button class="reject">Reject</button></form>'
            if can_act
            else '<span class="muted">read-only</span>'
        )
        schedule = f"<br>due {when(item['schedule_at'])}" if item["schedule_at"] else ""
        rows.append(
            f'<tr data-post-id="{pid}"><td><code>{pid}</code><br>{e(item["agency"])}'
            f" <small>{e(item['region'])}</small></td><td>{e(item['author'])}</td>"
            f'<td><p class="preview">{e(item["text"])}</p><small>{e(", ".join(item["pages"]))}</small></td>'
            f"<td>{when(item['queued_at'])}{schedule}</td><td class='actions'>{actions}</td></tr>"
        )
    return _table(
        ("post", "author", "text and pages", "queued", "decision"), rows, "Nothing waits for a moderator."
    )


def _delivery(d: dict[str, Any]) -> str:
    """One delivery as the latest posts list it; a throttled one says until when (Paris time)."""
    shown = f"{e(d['network'])}:{e(d['page'])} {e(d['status'])}"
    if d["status"] == "throttled" and d.get("throttled_until"):
        shown += f" until {when(d['throttled_until'])}"
    return shown


def posts_section(posts: list[dict[str, Any]]) -> str:
    rows = []
    for post in posts:
        deliveries = ", ".join(_delivery(d) for d in post["deliveries"])
        rows.append(
            f'<tr data-post-id="{e(post["post_id"])}"><td><code>{e(post["post_id"])}</code></td>'
            f"<td>{e(post['agency'])}</td><td>{_status(post['status'])}</td>"
            f"<td>{e(post['reason'])}</td><td><small>{deliveries}</small></td>"
            f"<td>{when(post['updated_at'])}</td></tr>"
        )
    return _table(("post", "agency", "status", "reason", "deliveries", "changed"), rows, "No post yet.")


def agencies_section(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"<tr><td>{e(r['agency'])}</td><td>{e(r['region'])}</td>"
        f"<td class='{'online' if r['online'] else 'offline'}'>{'online' if r['online'] else 'offline'}</td>"
        f"<td>{when(r['last_seen'])}</td><td class='num'>{e(r['outbox_pending'])}</td></tr>"
        for r in rows
    ]
    return _table(
        ("agency", "region", "link", "last seen", "outbox"), lines, "No agency has been heard from."
    )


def failures_section(
    letters: list[dict[str, Any]], failed: list[dict[str, Any]], csrf: str, can_retry: bool
) -> str:
    rows = []
    for d in letters:
        pid, page = e(d["post_id"]), e(d["page"])
        retry = (
            f'<form method="post" action="/dashboard/dead-letters/{pid}/{page}/retry" data-enhance>'
            f'<input type="hidden" name="csrf" value="{e(csrf)}"><button>Retry</button></form>'
            if can_retry
            else ""
        )
        rows.append(
            f'<tr data-post-id="{pid}"><td><code>{pid}</code></td><td>{page}</td><td>{e(d["network"])}</td>'
            f"<td>{e(d['status'])}</td><td class='num'>{e(d['attempts'])}</td>"
            f"<td>{e(error_message(d['error']))}</td><td>{when(d['raised_at'])}</td><td>{retry}</td></tr>"
        )
    recent = [
        f'<tr data-post-id="{e(d["post_id"])}"><td><code>{e(d["post_id"])}</code></td><td>{e(d["page"])}</td>'
        f"<td>{e(d['network'])}</td><td>{_status(d['status'])}</td><td>{when(d['updated_at'])}</td></tr>"
        for d in failed
    ]
    return (
        "<h3>Dead letters</h3>"
        + _table(
            ("post", "page", "network", "status", "attempts", "error", "since", ""), rows, "No dead letter."
        )
        + "<h3>Latest failed or unconfirmed deliveries</h3>"
        + _table(("post", "page", "network", "status", "changed"), recent, "No failed delivery.")
    )


def reauth_section(pages: list[dict[str, Any]]) -> str:
    rows = [
        f"<tr><td>{e(p['page'])}</td><td>{e(p['network'])}</td><td>{e(p['agency'])}</td>"
        f"<td>{e(error_message(p['error']))}</td><td>{when(p['raised_at'])}</td></tr>"
        for p in pages
    ]
    return _table(("page", "network", "agency", "error", "since"), rows, "Every page's connection works.")


def throttled_section(pages: list[dict[str, Any]]) -> str:
    rows = [
        f"<tr><td>{e(p['page'])}</td><td>{e(p['network'])}</td><td>{e(p['agency'])}</td>"
        f"<td>{when(p['since'])}</td><td>{when(p['until'])}</td><td>{e(error_message(p['error']))}</td></tr>"
        for p in pages
    ]
    return _table(
        ("page", "network", "agency", "since", "until", "reason"),
        rows,
        "No page has been throttled for long.",
    )


def calendar_section(days: list[tuple[date, list[dict[str, Any]]]]) -> str:
    columns = []
    for day, items in days:
        entries = "".join(
            f"<li><time>{e(i['time'])}</time> <code>{e(i['post_id'])}</code>"
            f" <small>{e(i['agency'])}</small></li>"
            for i in items
        )
        columns.append(
            f'<li class="day"><h3>{e(day.strftime("%a %d %b"))}</h3>'
            f"<ol>{entries or '<li class=muted>nothing planned</li>'}</ol></li>"
        )
    return f'<ol class="week">{"".join(columns)}</ol><p class="muted">Times in Paris time.</p>'


def chart_section(hours: list[str], per_network: dict[str, dict[str, int]]) -> str:
    display = [
        datetime.fromisoformat(f"{h}:00+00:00").astimezone(CALENDAR_ZONE).strftime("%H h") for h in hours
    ]
    return hourly_chart(hours, display, per_network)
