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
import secrets
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qualia_cli.errors import QualiaError
from qualia_cli.paths import get_paths
from qualia_cli.scenario.errors import ScenarioError
from qualia_cli.scenario.loader import load_scenario_dict

if TYPE_CHECKING:
    from qualia_cli.store import Store
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


class PortabilityError(QualiaError):
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
    tables: dict[str, list[_Row]] = Field(default_factory=dict)  # other per-session rows
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


# Columns that hold the path of an image file: exported as a key of ``images`` instead.
FILE_COLUMNS: dict[str, str] = {"messages": "image_path", "characters": "profile_image"}
TABLE_FILE_COLUMNS: dict[str, str] = {"images": "path"}


class _Embedder:
    """Turns file paths into keys of the document's ``images`` (each file once)."""

    def __init__(self) -> None:
        self.images: dict[str, str] = {}
        self._keys: dict[str, str | None] = {}

    def key(self, path: str | None) -> str | None:
        if not path:
            return None
        if path not in self._keys:
            uri = data_uri(Path(path))
            key = f"image-{len(self.images) + 1}" if uri else None
            if key and uri:
                self.images[key] = uri
            self._keys[path] = key
        return self._keys[path]

    def swap(self, row: dict[str, Any], column: str) -> None:
        row["image"] = self.key(row.pop(column, None))


def portable_session(store: Store, session_id: str, *, branch_only: bool = False) -> dict[str, Any]:
    """The portable document of a session (a plain dict, ready for ``json.dumps``)."""
    full = store.resolve_session_id(session_id)
    dump = store.dump_session(full)
    messages: list[dict[str, Any]] = dump["messages"]
    calls: list[dict[str, Any]] = dump["agent_calls"]
    tables: dict[str, list[dict[str, Any]]] = dump.get("tables") or {}
    if branch_only:
        keep = _branch_ids(messages, dump["session"].get("head_message_id"))
        messages = [m for m in messages if int(m["id"]) in keep]
        calls = [c for c in calls if c.get("message_id") in keep]
        tables = {
            t: [r for r in rs if r.get("message_id") is None or r["message_id"] in keep]
            for t, rs in tables.items()
        }
    files = _Embedder()
    for m in messages:
        files.swap(m, FILE_COLUMNS["messages"])
    for c in dump["characters"]:
        c.pop("id", None)
        files.swap(c, FILE_COLUMNS["characters"])
    for c in calls:
        c.pop("id", None)
    for table, table_rows in tables.items():
        for r in table_rows:
            r.pop("id", None)
            if table in TABLE_FILE_COLUMNS:
                files.swap(r, TABLE_FILE_COLUMNS[table])
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
        "tables": tables,
        "images": files.images,
    }


# --------------------------------------------------------------------------- import


def read_portable(path: Path) -> PortableSession:
    from qualia_cli.scenario.errors import ScenarioError
    from qualia_cli.scenario.safe_read import parse_json, read_text

    shown = str(path)
    try:
        data = parse_json(read_text(path, limit=MAX_IMPORT_BYTES, what="session export"), shown)
    except ScenarioError as err:
        raise PortabilityError(str(err)) from None
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


def _free_id(store: Store, wanted: str) -> str:
    if store.get_session(wanted) is None:
        return wanted
    while True:
        candidate = secrets.token_hex(5)
        if store.get_session(candidate) is None:
            return candidate


class _Writer:
    """Writes the document's images into the new session's folder (each key once)."""

    def __init__(self, images: dict[str, tuple[bytes, str]], folder: Path, shown: str) -> None:
        self.images = images
        self.folder = folder
        self.shown = shown
        self.written: dict[str, Path] = {}

    def path(self, key: str | None, where: str) -> str | None:
        if not key:
            return None
        if key not in self.images:
            raise PortabilityError(f"{self.shown}: {where} names a missing image '{key}'")
        if key not in self.written:
            blob, ext = self.images[key]
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"imported-{len(self.written) + 1}{ext}"
            target.write_bytes(blob)
            self.written[key] = target
        return str(self.written[key])

    def undo(self) -> None:
        for f in self.written.values():
            f.unlink(missing_ok=True)
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


def import_session(store: Store, path: Path) -> SessionRecord:
    """Import a portable copy as a new session (same id if free); returns its record."""
    from qualia_cli.store.errors import StoreError

    shown = str(path)
    doc = read_portable(path)
    try:
        load_scenario_dict(doc.session.scenario, source=f"{shown}: session.scenario")
    except ScenarioError as err:
        raise PortabilityError(str(err)) from None
    images = {name: _decode_image(uri, name, shown) for name, uri in doc.images.items()}
    session_id = _free_id(store, doc.session.id)
    files = _Writer(images, get_paths().images_dir / session_id, shown)

    def rows(items: list[Any], column: str | None, what: str) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(items):
            row = item.model_dump()
            key = row.pop("image", None)
            if column:
                row[column] = files.path(key, f"{what} {i}")
            out.append(row)
        return out

    try:
        session = doc.session.model_dump()
        session["scenario_path"] = None
        dump = {
            "session": session,
            "characters": rows(doc.characters, FILE_COLUMNS["characters"], "character"),
            "messages": rows(doc.messages, FILE_COLUMNS["messages"], "message"),
            "agent_calls": rows(doc.agent_calls, None, "agent call"),
            "tables": {
                t: rows(rs, TABLE_FILE_COLUMNS.get(t), f"{t} row") for t, rs in doc.tables.items()
            },
        }
        store.load_session(dump, session_id)
    except (PortabilityError, StoreError, OSError, OverflowError) as err:
        files.undo()
        if isinstance(err, OverflowError):
            message = "a number is too large for the database (more than 2**63)"
            raise PortabilityError(f"{shown}: {message}") from None
        if isinstance(err, OSError):
            raise PortabilityError(f"{shown}: cannot write the images: {err}") from None
        if isinstance(err, StoreError):
            raise PortabilityError(f"{shown}: {err}") from None
        raise
    record = store.get_session(session_id)
    assert record is not None
    return record
