"""Sessions that leave the machine: a portable JSON copy, Markdown and HTML transcripts, and
importing a portable copy back (on this machine or another).

The portable document (``"format": "qualia-session"``) holds every row of the session — the
scenario snapshot, the partner, the message tree (or one branch of it), the agent call log —
and the scene images as data URIs, so nothing refers to files on the exporting machine.
Imports are untrusted: the file size, the number of messages and each image are bounded, the
envelope is validated with Pydantic (unknown keys are errors), the scenario snapshot must
validate, and images must really be images.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import shutil
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qualia_cli.paths import get_paths
from qualia_cli.scenario.errors import ScenarioError
from qualia_cli.scenario.loader import load_scenario_dict

if TYPE_CHECKING:
    from qualia_cli.engine.facade import Engine
    from qualia_cli.store.records import SessionRecord

FORMAT = "qualia-session"
FORMAT_VERSION = 1
MAX_IMPORT_BYTES = 256 * 1024 * 1024
MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_MESSAGES = 200_000
IMAGE_TYPES: dict[bytes, tuple[str, str]] = {
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"GIF8": ("image/gif", ".gif"),
}
Format = Literal["md", "html", "json"]


class PortabilityError(Exception):
    """An export or import that cannot be done; one line naming the file or session."""


# --------------------------------------------------------------------------- the document


class _Row(BaseModel):
    # Rows keep columns this version does not know (a newer qualia exported them); the store
    # only ever writes names that are real columns of its tables.
    model_config = ConfigDict(extra="allow")


class SessionRow(_Row):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    title: str
    scenario_id: str
    scenario: dict[str, Any]
    head_message_id: int | None = None


class CharacterRow(_Row):
    name: str
    role: str = "partner"


class MessageRow(_Row):
    id: int
    parent_id: int | None = None
    sender: Literal["player", "partner", "narrator", "system"]
    content: dict[str, Any]
    created_at: str
    image: str | None = None  # a key of the document's ``images``


class AgentCallRow(_Row):
    agent: str
    model: str
    turn_id: str
    message_id: int | None = None


class PortableSession(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["qualia-session"]
    version: int = Field(ge=1, le=FORMAT_VERSION)
    exported_at: str = ""
    app_version: str = ""
    branch_only: bool = False
    session: SessionRow
    characters: list[CharacterRow] = Field(default_factory=list)
    messages: list[MessageRow] = Field(max_length=MAX_MESSAGES)
    agent_calls: list[AgentCallRow] = Field(default_factory=list)
    images: dict[str, str] = Field(default_factory=dict)  # name -> data URI


def _app_version() -> str:
    try:
        return version("qualia-cli")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return ""


def _image_kind(blob: bytes) -> tuple[str, str] | None:
    for magic, kind in IMAGE_TYPES.items():
        if blob.startswith(magic):
            return kind
    if blob[:4] == b"RIFF" and blob[8:12] == b"WEBP":
        return ("image/webp", ".webp")
    return None


def data_uri(path: Path) -> str | None:
    """The image at ``path`` as a data URI, or None if missing, too large or not an image."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_IMAGE_BYTES:
            return None
        blob = path.read_bytes()
    except OSError:
        return None
    kind = _image_kind(blob)
    if kind is None:
        return None
    return f"data:{kind[0]};base64,{base64.b64encode(blob).decode('ascii')}"


def _branch_ids(messages: list[dict[str, Any]], head: int | None) -> set[int]:
    parents = {int(m["id"]): m.get("parent_id") for m in messages}
    out: set[int] = set()
    node = head
    while node is not None and node in parents and node not in out:
        out.add(node)
        node = parents[node]
    return out


def portable_session(
    engine: Engine, session_id: str, *, branch_only: bool = False
) -> dict[str, Any]:
    """The portable document of a session (a plain dict, ready for ``json.dumps``)."""
    full = engine.store.resolve_session_id(session_id)
    dump = engine.store.dump_session(full)
    messages: list[dict[str, Any]] = dump["messages"]
    calls: list[dict[str, Any]] = dump["agent_calls"]
    if branch_only:
        keep = _branch_ids(messages, dump["session"].get("head_message_id"))
        messages = [m for m in messages if int(m["id"]) in keep]
        calls = [c for c in calls if c.get("message_id") in keep]
    images: dict[str, str] = {}
    for m in messages:
        path = m.pop("image_path", None)
        uri = data_uri(Path(path)) if path else None
        if uri:
            name = f"message-{m['id']}"
            images[name] = uri
            m["image"] = name
    for c in dump["characters"]:
        c.pop("id", None)
        picture = c.pop("profile_image", None)
        uri = data_uri(Path(picture)) if picture else None
        if uri:
            images[f"profile-{c.get('role', 'partner')}"] = uri
    for c in calls:
        c.pop("id", None)
    dump["session"].pop("scenario_path", None)  # a path on this machine
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "app_version": _app_version(),
        "branch_only": branch_only,
        "session": dump["session"],
        "characters": dump["characters"],
        "messages": messages,
        "agent_calls": calls,
        "images": images,
    }


def export_session(
    engine: Engine, session_id: str, fmt: Format = "json", *, branch_only: bool = False
) -> str:
    """The session as text: a portable JSON copy, a Markdown or a self-contained HTML file."""
    from qualia_cli.engine.transcript_render import render_html, render_markdown

    doc = portable_session(engine, session_id, branch_only=branch_only)
    if fmt == "json":
        return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if fmt == "md":
        return render_markdown(doc)
    if fmt == "html":
        return render_html(doc)
    raise PortabilityError(f"unknown export format '{fmt}' (use md, html or json)")


# --------------------------------------------------------------------------- import


def read_portable(path: Path) -> PortableSession:
    shown = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_IMPORT_BYTES:
            raise PortabilityError(f"{shown}: file is too large to import ({size} bytes)")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PortabilityError(f"{shown}: file not found") from None
    except IsADirectoryError:
        raise PortabilityError(f"{shown}: is a directory") from None
    except OSError as err:
        raise PortabilityError(f"{shown}: cannot read: {err.strerror or err}") from None
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise PortabilityError(f"{shown}: not a qualia session export (not UTF-8 JSON)") from None
    except json.JSONDecodeError as err:
        raise PortabilityError(
            f"{shown}:{err.lineno}:{err.colno}: not valid JSON: {err.msg}"
        ) from None
    except RecursionError:
        raise PortabilityError(f"{shown}: JSON nested too deeply") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise PortabilityError(
            f"{shown}: not a qualia session export (export one with "
            "`qualia sessions export ID --format json`)"
        )
    try:
        return PortableSession.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PortabilityError(f"{shown}: {where}: {first['msg']}") from None


def _decode_image(uri: str, name: str, shown: str) -> tuple[bytes, str]:
    head, sep, payload = uri.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise PortabilityError(f"{shown}: image '{name}' is not a base64 data URI")
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise PortabilityError(f"{shown}: image '{name}' is too large")
    try:
        blob = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise PortabilityError(f"{shown}: image '{name}' is not valid base64") from None
    kind = _image_kind(blob)
    if kind is None:
        raise PortabilityError(f"{shown}: image '{name}' is not a PNG, JPEG, GIF or WebP image")
    return blob, kind[1]


def _free_id(engine: Engine, wanted: str) -> str:
    if engine.store.get_session(wanted) is None:
        return wanted
    while True:
        candidate = secrets.token_hex(5)
        if engine.store.get_session(candidate) is None:
            return candidate


def import_session(engine: Engine, path: Path) -> SessionRecord:
    """Import a portable copy as a new session (same id if free); returns its record."""
    from qualia_cli.store.errors import StoreError

    shown = str(path)
    doc = read_portable(path)
    try:
        load_scenario_dict(doc.session.scenario, source=f"{shown}: session.scenario")
    except ScenarioError as err:
        raise PortabilityError(str(err)) from None
    images = {name: _decode_image(uri, name, shown) for name, uri in doc.images.items()}
    session_id = _free_id(engine, doc.session.id)
    folder = get_paths().images_dir / session_id
    written: list[Path] = []
    messages = []
    try:
        for m in doc.messages:
            row = m.model_dump()
            name = row.pop("image", None)
            row["image_path"] = None
            if name:
                if name not in images:
                    raise PortabilityError(f"{shown}: message {m.id} names a missing image")
                blob, ext = images[name]
                target = folder / f"imported-{m.id}{ext}"
                folder.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
                written.append(target)
                row["image_path"] = str(target)
            messages.append(row)
        characters = [c.model_dump() for c in doc.characters]
        for c in characters:
            c.pop("profile_image", None)
            key = f"profile-{c.get('role', 'partner')}"
            if key in images:
                blob, ext = images[key]
                target = folder / f"{key}{ext}"
                folder.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
                written.append(target)
                c["profile_image"] = str(target)
        session = doc.session.model_dump()
        session["scenario_path"] = None
        dump = {
            "session": session,
            "characters": characters,
            "messages": messages,
            "agent_calls": [c.model_dump() for c in doc.agent_calls],
        }
        engine.store.load_session(dump, session_id)
    except (PortabilityError, StoreError, OSError) as err:
        for f in written:
            f.unlink(missing_ok=True)
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        if isinstance(err, OSError):
            raise PortabilityError(f"{shown}: cannot write the images: {err}") from None
        if isinstance(err, StoreError):
            raise PortabilityError(f"{shown}: {err}") from None
        raise
    record = engine.store.get_session(session_id)
    assert record is not None
    return record


# --------------------------------------------------------------------------- housekeeping


def _session_images(engine: Engine, session_id: str) -> list[Path]:
    root = get_paths().images_dir.resolve()
    out = []
    for m in engine.store.dump_session(session_id)["messages"]:
        p = m.get("image_path")
        if p and Path(p).resolve().is_relative_to(root):
            out.append(Path(p))
    return out


def delete_session(engine: Engine, session_id: str) -> str:
    """Delete a session, and the images qualia stored for it; returns the full id."""
    full = engine.store.resolve_session_id(session_id)
    images = _session_images(engine, full)
    engine.store.delete_session(full)
    for p in images:
        p.unlink(missing_ok=True)
    folder = get_paths().images_dir / full
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)
    return full


def archive_session(engine: Engine, session_id: str, archived: bool = True) -> str:
    full = engine.store.resolve_session_id(session_id)
    engine.store.set_archived(full, archived)
    return full


def rename_session(engine: Engine, session_id: str, title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise PortabilityError("a session title cannot be empty")
    if len(title) > 200:
        raise PortabilityError("a session title can be at most 200 characters")
    full = engine.store.resolve_session_id(session_id)
    engine.store.rename(full, title)
    return full
