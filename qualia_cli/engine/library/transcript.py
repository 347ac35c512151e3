"""Markdown and self-contained HTML transcripts of a portable session document.

The story is the branch from the opening to the session's head; replies that were swiped
away or rewound (other children of a message on that branch) are listed as "other
versions" under it. The HTML has no scripts and no external resources: its images are the
document's data URIs, and a Content-Security-Policy forbids loading anything else.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

from qualia_cli.roles import Sender, speaker_name
from qualia_cli.store.content import PartnerLine, message_text

_CSS = """
body{font:16px/1.55 Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222;
background:#faf8f4}
h1{font-size:1.6rem;margin-bottom:.2rem}.meta{color:#776;font-size:.9rem;margin-bottom:2rem}
.msg{margin:1rem 0}.who{font-weight:bold}.narrator{font-style:italic;color:#555}
.player .who{color:#2a5d8f}.partner .who{color:#8f2a5d}.action{color:#666;font-style:italic}
.mood{color:#998;font-size:.8rem}img{max-width:100%;border-radius:6px;margin:.5rem 0}
details{margin:.3rem 0 .3rem 1rem;color:#666;font-size:.9rem}.ending{margin-top:2rem;
padding:1rem;border:1px solid #cbb;border-radius:6px;background:#fff}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _partner_name(doc: dict[str, Any]) -> str:
    partner = doc["session"].get("scenario", {}).get("partner", {})
    return str(partner.get("name") or "Partner")


def story(doc: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(message, other versions) along the branch that ends at the session's head."""
    messages = {int(m["id"]): m for m in doc["messages"]}
    children: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for m in doc["messages"]:
        children[m.get("parent_id")].append(m)
    path: list[dict[str, Any]] = []
    node = doc["session"].get("head_message_id")
    seen: set[int] = set()
    while node is not None and node in messages and node not in seen:
        seen.add(node)
        path.append(messages[node])
        node = messages[node].get("parent_id")
    path.reverse()
    out = []
    for m in path:
        others = [o for o in children[m.get("parent_id")] if o["id"] != m["id"]]
        out.append((m, others))
    return out


def _parts(m: dict[str, Any], partner: str) -> tuple[str, str, str, str]:
    """(speaker, action, text, mood)."""
    sender = m["sender"]
    content = m.get("content") or {}
    line = PartnerLine.from_json(content)
    text = message_text(content).strip()
    mood = line.mood if sender == Sender.PARTNER else ""
    return speaker_name(sender, partner), line.action.strip(), text, mood


def _turns(doc: dict[str, Any]) -> int:
    return sum(1 for m, _ in story(doc) if m["sender"] == "player")


def _ending(doc: dict[str, Any], path: list[tuple[dict[str, Any], Any]]) -> str | None:
    if not path or not path[-1][0].get("ending"):
        return None
    eid = path[-1][0]["ending"]
    for e in doc["session"].get("scenario", {}).get("endings", []):
        if e.get("id") == eid:
            return f"{e.get('title') or eid}: {e.get('description') or ''}".strip(": ")
    return str(eid)


# --------------------------------------------------------------------------- markdown


def _md_line(m: dict[str, Any], partner: str) -> str:
    who, action, text, _ = _parts(m, partner)
    if not who:
        return f"*{text}*"
    act = f" *({action})*" if action else ""
    return f"**{who}:**{act} {text}".rstrip()


def render_markdown(doc: dict[str, Any]) -> str:
    s = doc["session"]
    partner = _partner_name(doc)
    path = story(doc)
    scenario = s.get("scenario", {})
    lines = [
        f"# {s['title']}",
        "",
        f"*{scenario.get('title', s['scenario_id'])} · {s.get('genre', '')} · "
        f"{_turns(doc)} turns · exported {doc.get('exported_at', '')}*",
        "",
    ]
    for m, others in path:
        lines += [_md_line(m, partner), ""]
        if m.get("image"):
            lines += [f"![scene]({doc['images'][m['image']]})", ""]
        for o in others:
            lines += [f"> other version: {_md_line(o, partner)}", ""]
    ending = _ending(doc, path)
    if ending:
        lines += ["---", "", f"**The end — {ending}**", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- html


def _html_msg(m: dict[str, Any], partner: str, images: dict[str, str]) -> str:
    who, action, text, mood = _parts(m, partner)
    e = html.escape
    cls = m["sender"]
    body = ""
    if who:
        body += f'<span class="who">{e(who)}</span> '
    if action:
        body += f'<span class="action">({e(action)})</span> '
    body += e(text)
    if mood:
        body += f' <span class="mood">[{e(mood)}]</span>'
    out = f'<div class="msg {cls}">{body}'
    if m.get("image") and m["image"] in images:
        out += f'<div><img alt="scene" src="{e(images[m["image"]], quote=True)}"></div>'
    return out + "</div>"


def render_html(doc: dict[str, Any]) -> str:
    s = doc["session"]
    e = html.escape
    partner = _partner_name(doc)
    images = doc.get("images") or {}
    path = story(doc)
    scenario = s.get("scenario", {})
    body = []
    for m, others in path:
        body.append(_html_msg(m, partner, images))
        if others:
            inner = "".join(_html_msg(o, partner, images) for o in others)
            n = len(others)
            body.append(
                f"<details><summary>{n} other version{'s' if n != 1 else ''}</summary>"
                f"{inner}</details>"
            )
    ending = _ending(doc, path)
    if ending:
        body.append(f'<div class="ending"><b>The end</b> — {e(ending)}</div>')
    meta = (
        f"{e(str(scenario.get('title', s['scenario_id'])))} · {e(str(s.get('genre', '')))} · "
        f"{_turns(doc)} turns · exported {e(str(doc.get('exported_at', '')))}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(s['title'])}</title><style>{_CSS}</style></head><body>"
        f'<h1>{e(s["title"])}</h1><div class="meta">{meta}</div>\n'
        + "\n".join(body)
        + "\n</body></html>\n"
    )
