"""Conversions between SQLite rows and the plain records (JSON columns, booleans, timestamps)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from qualia_cli.store.records import AgentCall, Message, NewMessage, PartnerState, SessionRecord

MESSAGE_COLUMNS = (
    "id, session_id, parent_id, turn_id, sender, content, created_at, processing_time_ms, "
    "model, image_prompt, image_path, partner_state_snapshot, prompt_tokens, "
    "completion_tokens, ending"
)


def now_iso() -> str:
    """UTC timestamp with fixed width, so text order is time order."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | None, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    return json.loads(text)


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    keys = [d[0] for d in cursor.description or ()]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


def message_from_row(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        turn_id=row["turn_id"],
        sender=row["sender"],
        content=loads(row["content"], {}),
        created_at=row["created_at"],
        processing_time_ms=row["processing_time_ms"],
        model=row["model"],
        image_prompt=row["image_prompt"],
        partner_state_snapshot=loads(row["partner_state_snapshot"]),
        prompt_tokens=row["prompt_tokens"] or 0,
        completion_tokens=row["completion_tokens"] or 0,
        image_path=row["image_path"],
        ending=row["ending"],
    )


def message_values(
    msg: NewMessage,
    *,
    session_id: str,
    parent_id: int | None,
    turn_id: str | None,
    created_at: str,
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "parent_id": parent_id,
        "turn_id": turn_id,
        "sender": msg.sender,
        "content": dumps(msg.content),
        "created_at": created_at,
        "processing_time_ms": msg.processing_time_ms,
        "model": msg.model,
        "image_prompt": msg.image_prompt,
        "partner_state_snapshot": dumps(msg.partner_state_snapshot),
        "prompt_tokens": msg.prompt_tokens,
        "completion_tokens": msg.completion_tokens,
    }


def session_from_row(row: dict[str, Any]) -> SessionRecord:
    return SessionRecord(
        id=row["id"],
        title=row["title"],
        scenario_id=row["scenario_id"],
        scenario_path=row["scenario_path"],
        scenario=loads(row["scenario"], {}),
        genre=row["genre"],
        narrative_pace=row["narrative_pace"],
        content_rating=row["content_rating"],
        settings=loads(row["settings"], {}),
        world_state=loads(row["world_state"], {}),
        head_message_id=row["head_message_id"],
        archived=bool(row["archived"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        turns=row.get("turns") or 0,
        cost_usd=float(row.get("cost_usd") or 0.0),
        ending=row.get("ending"),
    )


def partner_columns(state: PartnerState) -> dict[str, Any]:
    return {
        "name": state.name,
        "profile": dumps(state.profile or {}),
        "stats": dumps(state.stats or {}),
        "mood": state.mood,
        "memory_summary": state.memory_summary,
        "location": state.location,
        "time": state.time,
    }


def partner_from_row(row: dict[str, Any]) -> PartnerState:
    return PartnerState(
        name=row["name"],
        stats=loads(row["stats"], {}),
        mood=row["mood"],
        memory_summary=row["memory_summary"],
        location=row["location"],
        time=row["time"],
        profile=loads(row["profile"], {}),
    )


def state_snapshot(partner: PartnerState, world_state: dict[str, Any]) -> str | None:
    return dumps({"world_state": world_state, "partner": asdict(partner)})


def state_from_snapshot(text: str) -> tuple[PartnerState, dict[str, Any]]:
    data = loads(text, {})
    return PartnerState(**data["partner"]), dict(data.get("world_state") or {})


def agent_call_values(
    call: AgentCall, *, session_id: str, turn_id: str, message_id: int | None, created_at: str
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "turn_id": turn_id,
        "message_id": message_id,
        "agent": call.agent,
        "model": call.model,
        "ok": int(bool(call.ok)),
        "error_code": call.error_code,
        "error": call.error,
        "latency_ms": call.latency_ms,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "cost_usd": call.cost_usd,
        "repairs": call.repairs,
        "retries": call.retries,
        "raw_output": call.raw_output,
        "reasoning": call.reasoning,
        "output_mode": call.output_mode,
        "started_at": call.started_at,
        "created_at": created_at,
    }


def agent_call_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["ok"] = bool(out["ok"])
    return out
