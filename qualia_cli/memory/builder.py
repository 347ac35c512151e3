"""The context builder every agent uses: one token budget, filled in priority order.

1. essentials: the agent's template with the scenario, the partner's state and the inputs
   (always included);
2. long-term memory (pinned first, then the newest) up to ``memory.memory_tokens``;
3. recalled snippets (BM25 matches for this turn) up to ``memory.recall_tokens``;
4. lore entries the recent turns trigger, up to the lorebook's ``token_budget``;
5. as many recent turns as still fit (for the summarizer: the turns it folds, oldest first);
6. for agents that use a card (the Partner), the card's example dialogues that still fit (the
   card's system prompt and post-history instructions are essentials; see agents/card.py).

The whole prompt is then counted again as the model will see it (chat template included) and
trimmed until it fits, so a prompt never exceeds its budget unless the essentials alone do
(``over_budget`` in the trace). Parts only appear in templates that ask for them: ``{{memory}}``
receives lore, memory and recall; ``{{history}}`` the turns. An agent that asks for its story
as chat turns (``chat_turns``: the small profile's Partner) gets them here too
(memory/chat_turns.py).

Agents only describe their prompt (template, values, schema, the parts they use) and never
import this package; the engine builds each prompt with ``build_prompt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qualia_cli.agents.base import Agent
from qualia_cli.agents.card import CardPrompt, card_prompt, with_card, with_depth_note
from qualia_cli.agents.context import StoryContext, message_line
from qualia_cli.config import MemoryConfig
from qualia_cli.llm.base import ChatMessage
from qualia_cli.llm.tokens import ESTIMATE, TokenCounter
from qualia_cli.memory import lore
from qualia_cli.memory.chat_turns import fit_chat_turns
from qualia_cli.memory.prompt import (
    EMPTY_STORY,
    LORE_HEADER,
    MEMORY_HEADER,
    OMITTED_STORY,
    RECALL_HEADER,
    BuiltPrompt,
    ContextTrace,
)
from qualia_cli.memory.view import MemoryView
from qualia_cli.store.memory import MemoryRecord, RecallHit
from qualia_cli.store.records import Message


@dataclass
class _Line:
    text: str
    cost: int
    ref: dict[str, Any]


class _Parts:
    """The optional parts as lines; renders the `memory` and `history` blocks."""

    def __init__(self) -> None:
        self.lore: list[_Line] = []
        self.memory: list[_Line] = []
        self.recall: list[_Line] = []
        self.history: list[_Line] = []
        self.history_ids: list[int] = []
        self.examples: list[_Line] = []

    def memory_block(self) -> str:
        out: list[str] = []
        for header, lines in (
            (LORE_HEADER, self.lore),
            (MEMORY_HEADER, self.memory),
            (RECALL_HEADER, self.recall),
        ):
            if lines:
                out.append(header)
                out += [line.text for line in lines]
        return "\n".join(out)

    def history_block(self, had_any: bool, empty: str) -> str:
        if self.history:
            return "\n".join(line.text for line in self.history)
        return OMITTED_STORY if had_any else empty


def _line_cost(counter: TokenCounter, text: str) -> int:
    return counter.count(text) + 1  # + the newline


def _section(
    counter: TokenCounter, header: str, candidates: list[_Line], cap: int
) -> tuple[list[_Line], int]:
    """Take candidates in order while they fit in ``cap`` (the header counts once)."""
    chosen: list[_Line] = []
    used = _line_cost(counter, header)
    for line in candidates:
        if used + line.cost <= cap:
            chosen.append(line)
            used += line.cost
    return (chosen, used) if chosen else ([], 0)


def _memory_candidates(memories: list[MemoryRecord], counter: TokenCounter) -> list[_Line]:
    """Pinned memories first, then the newest (summaries and facts alike)."""
    ordered = sorted(memories, key=lambda m: (not m.pinned, -m.message_id, -m.id))
    return [
        _Line(f"- {m.text}", _line_cost(counter, f"- {m.text}"), {"id": m.id, "kind": m.kind})
        for m in ordered
    ]


def _recall_line(hit: RecallHit, ctx: StoryContext) -> str:
    if hit.kind == "memory":
        return f"- (memory) {hit.text}"
    who = {"player": "Player", "partner": ctx.scenario.partner.name}.get(hit.sender, "Narrator")
    return f"- {who}: {hit.text}"


def _recall_ref(hit: RecallHit) -> dict[str, Any]:
    """A recalled snippet in the trace: which side found it (lexical, semantic or both) and its
    scores (``score``: BM25, cosine distance, or the fused reciprocal-rank score)."""
    digits = 3 if hit.source == "lexical" else 4
    ref: dict[str, Any] = {"kind": hit.kind, "id": hit.id, "score": round(hit.score, digits)}
    ref["from"] = hit.source
    if hit.source != "lexical" or hit.distance is not None:
        ref["bm25"] = None if hit.bm25 is None else round(hit.bm25, 3)
        ref["distance"] = None if hit.distance is None else round(hit.distance, 4)
    return ref


def _history_lines(
    messages: list[Message], ctx: StoryContext, counter: TokenCounter
) -> list[_Line]:
    out = []
    for m in messages:
        text = message_line(m, ctx)
        out.append(_Line(text, _line_cost(counter, text), {"id": m.id}))
    return out


def _fit_history(lines: list[_Line], budget: int, oldest_first: bool) -> list[_Line]:
    """Recent mode keeps the newest lines that fit; fold mode the oldest."""
    chosen: list[_Line] = []
    used = 0
    for line in lines if oldest_first else reversed(lines):
        if used + line.cost > budget:
            break
        chosen.append(line)
        used += line.cost
    return chosen if oldest_first else list(reversed(chosen))


def _scan_text(ctx: StoryContext, depth: int, inputs: dict[str, Any]) -> str:
    recent = [message_line(m, ctx) for m in ctx.history[-depth:]]
    extra = [str(inputs.get(k) or "") for k in ("dialogue", "narration")]
    return "\n".join([*recent, ctx.player_text, *extra])


def build_prompt(
    agent: type[Agent[Any]],
    ctx: StoryContext,
    view: MemoryView | None,
    budget: int,
    **inputs: Any,
) -> BuiltPrompt:
    """Render ``agent``'s prompt for ``ctx`` within ``budget`` tokens, with its trace.

    ``view`` is what the memory layer prepared for this turn (None: no memory or recall, and
    the estimate counts); the agent may hand the turn to a variant (``prompt_agent``)."""
    agent = agent.prompt_agent(ctx)
    counter = view.counter(agent.role) if view else ESTIMATE
    built = _assemble(agent, ctx, view, counter, budget, inputs)
    if agent.chat_turns:
        fit_chat_turns(built, ctx, counter, budget)
    return built


def prompt_messages(
    agent: type[Agent[Any]],
    ctx: StoryContext,
    view: MemoryView | None,
    budget: int,
    **inputs: Any,
) -> list[ChatMessage]:
    """Just the messages of ``build_prompt``."""
    return build_prompt(agent, ctx, view, budget, **inputs).messages


def _assemble(
    agent: type[Agent[Any]],
    ctx: StoryContext,
    view: MemoryView | None,
    counter: TokenCounter,
    budget: int,
    inputs: dict[str, Any],
) -> BuiltPrompt:
    cfg = view.settings if view else MemoryConfig()
    template = agent.template()
    values = agent.values(ctx, **inputs)
    wants_memory = "memory" in template.variables
    wants_history = "history" in template.variables and agent.uses_history
    fold: list[Message] | None = inputs.get("fold") if agent.history_mode == "fold" else None
    source = fold if fold is not None else ctx.history
    empty = "(nothing to fold)" if fold is not None else EMPTY_STORY

    values["memory"] = ""
    values["history"] = ""
    card = card_prompt(ctx) if agent.uses_card else None
    essentials = counter.count_messages(with_card(template.render(values), card, []))
    trace = ContextTrace(agent.role, budget, counter.name)
    remaining = max(0, budget - essentials)
    parts = _Parts()

    mem_cap = min(cfg.memory_tokens, remaining) if view and agent.uses_memory else 0
    rec_cap = min(cfg.recall_tokens, remaining) if view and agent.uses_recall else 0
    book = ctx.scenario.lorebook
    lore_cap = min(book.token_budget, remaining) if agent.uses_lore and book.entries else 0
    if not wants_memory:
        mem_cap = rec_cap = lore_cap = 0
    prefetch = getattr(counter, "prefetch", None)
    if prefetch is not None:  # one request for every line this prompt might use
        lines = [message_line(m, ctx) for m in source] if wants_history else []
        if view and wants_memory:
            lines += [f"- {m.text}" for m in view.memories]
            lines += [_recall_line(h, ctx) for h in view.recalled]
        if lore_cap:
            lines += [f"- {e.content}" for e in book.entries if e.enabled]
        if card is not None:
            lines += card.examples
        prefetch(lines)
    all_history = _history_lines(source, ctx, counter) if wants_history else []

    # 2. long-term memory
    used_mem = 0
    if mem_cap and view:
        candidates = _memory_candidates(view.memories, counter)
        parts.memory, used_mem = _section(counter, MEMORY_HEADER, candidates, mem_cap)
        by_id = {m.id: m for m in view.memories}
        parts.memory.sort(key=lambda line: _memory_order(by_id[line.ref["id"]]))
        remaining -= used_mem

    # 3. recall: skip what the memory part or the surely-shown recent turns already hold
    used_rec = 0
    if rec_cap and view:
        floor = max(0, remaining - rec_cap - lore_cap)
        shown = {line.ref["id"] for line in _fit_history(all_history, floor, fold is not None)}
        in_memory = {line.ref["id"] for line in parts.memory}
        candidates = []
        for hit in view.recalled:
            if (hit.kind == "memory" and hit.id in in_memory) or (
                hit.kind == "message" and hit.id in shown
            ):
                continue
            text = _recall_line(hit, ctx)
            ref = _recall_ref(hit)
            candidates.append(_Line(text, _line_cost(counter, text), ref))
        candidates = candidates[: cfg.recall_results]
        parts.recall, used_rec = _section(
            counter, RECALL_HEADER, candidates, min(rec_cap, remaining)
        )
        remaining -= used_rec

    # 4. lore
    used_lore = 0
    if lore_cap:
        names = (ctx.scenario.partner.name, ctx.player_name)
        hits = lore.triggered(book, _scan_text(ctx, book.scan_depth, inputs), names)
        header = _line_cost(counter, LORE_HEADER)
        chosen, used = lore.select(
            hits,
            min(lore_cap, remaining) - header,
            lambda t: _line_cost(counter, f"- {t}"),
            names,
        )
        for hit in chosen:
            text = f"- {lore.content(hit.entry, names)}"
            ref = {"entry": hit.index, "key": hit.key, "comment": hit.entry.comment}
            parts.lore.append(_Line(text, _line_cost(counter, text), ref))
        used_lore = used + header if chosen else 0
        remaining -= used_lore

    # 5. recent turns (or the turns to fold)
    parts.history = _fit_history(all_history, remaining, fold is not None)

    # 6. the card's example dialogues, in what the turns leave
    if card is not None and card.examples:
        remaining -= sum(line.cost for line in parts.history)
        candidates = [
            _Line(b, _line_cost(counter, b), {"example": i}) for i, b in enumerate(card.examples)
        ]
        parts.examples, _ = _section(counter, card.examples_header, candidates, remaining)

    messages = _render(template, values, parts, bool(source), empty, card)
    total = counter.count_messages(messages)
    while total > budget and _trim(parts, total - budget, oldest_first=fold is not None):
        messages = _render(template, values, parts, bool(source), empty, card)
        total = counter.count_messages(messages)

    trace.total = total
    trace.over_budget = total > budget
    trace.parts = {
        "essentials": essentials,
        "lore": _part_cost(counter, LORE_HEADER, parts.lore),
        "memory": _part_cost(counter, MEMORY_HEADER, parts.memory),
        "recall": _part_cost(counter, RECALL_HEADER, parts.recall),
        "history": _part_cost(counter, None, parts.history),
    }
    if card is not None:
        header = card.examples_header
        trace.parts["card_examples"] = _part_cost(counter, header, parts.examples)
    trace.memories = [line.ref | {"tokens": line.cost} for line in parts.memory]
    trace.recalled = [line.ref | {"tokens": line.cost} for line in parts.recall]
    trace.lore = [line.ref | {"tokens": line.cost} for line in parts.lore]
    ids = [line.ref["id"] for line in parts.history]
    trace.history = {
        "messages": len(ids),
        "omitted": len(all_history) - len(ids),
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
    }
    return BuiltPrompt(messages, trace, ids)


def _part_cost(counter: TokenCounter, header: str | None, lines: list[_Line]) -> int:
    if not lines:
        return 0
    return sum(line.cost for line in lines) + (_line_cost(counter, header) if header else 0)


def _memory_order(m: MemoryRecord) -> tuple[int, int, int]:
    """Rendered order: pinned first, then oldest to newest."""
    return (0 if m.pinned else 1, m.message_id, m.id)


def _render(
    template: Any,
    values: dict[str, object],
    parts: _Parts,
    had_any: bool,
    empty: str,
    card: CardPrompt | None = None,
) -> list[ChatMessage]:
    values = dict(values)
    values["memory"] = parts.memory_block()
    values["history"] = with_depth_note(parts.history_block(had_any, empty), card)
    rendered: list[ChatMessage] = template.render(values)
    return with_card(rendered, card, [line.text for line in parts.examples])


def _trim(parts: _Parts, excess: int, *, oldest_first: bool) -> bool:
    """Drop lines worth at least ``excess`` tokens: card examples first, then turns, recall,
    lore, memory."""
    dropped = False
    for lines, from_start in (
        (parts.examples, False),
        (parts.history, not oldest_first),
        (parts.recall, False),
        (parts.lore, False),
        (parts.memory, False),
    ):
        while lines and excess > 0:
            line = lines.pop(0) if from_start else lines.pop()
            excess -= line.cost
            dropped = True
        if excess <= 0:
            break
    return dropped
