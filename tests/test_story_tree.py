"""The engine's story tree: every turn of every branch, runs, forks, redo and session search."""

from __future__ import annotations

import pytest
from support.engine import make_engine, play_lines
from support.tui import fill_long_session

from qualia_cli.engine import Engine
from qualia_cli.engine.story.branching import SessionActionError
from qualia_cli.engine.story.tree import redo, search, story_tree


@pytest.fixture
async def engine() -> Engine:
    e = make_engine(enabled=False)
    yield e
    await e.aclose()


async def test_every_branch_stays_in_the_tree(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "one", "two", "three", "four")
    s.branch_at(story_tree(s).run(story_tree(s).root)[1])  # back to the end of turn one
    await play_lines(s, "other two")

    tree = story_tree(s)
    run = tree.run(tree.root)
    assert [tree.turns[t].player for t in run] == ["", "one", "other two"]
    assert tree.head_turn == run[-1] and tree.on_path == set(run)
    # the abandoned path (turns 2–4) is reachable as an alternative of "other two"
    (old,) = tree.forks(run[-1])
    assert [tree.turns[t].player for t in tree.run(old)] == ["two", "three", "four"]
    assert [tree.turns[t].number for t in tree.run(old)] == [2, 3, 4]
    assert tree.alternative_index(run[-1]) == (2, 2)
    assert tree.turns[run[0]].reply.startswith("You'll be the insurance man")
    assert tree.path_to(tree.run(old)[-1])[:2] == run[:2]


async def test_redo_goes_forward_again_after_rewinds(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "one", "two", "three")
    ends = [story_tree(s).turns[t].last_id for t in story_tree(s).run(story_tree(s).root)]
    s.rewind()
    s.rewind()
    assert s.record.head_message_id == ends[1]
    assert redo(s) == ends[2]
    assert redo(s, prefer=ends[3]) == ends[3]
    with pytest.raises(SessionActionError, match="nothing to redo"):
        redo(s)


async def test_redo_prefers_the_turn_that_was_undone(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "one")
    first = s.record.head_message_id
    async for _ in s.regenerate():
        pass
    s.switch_alternative(-1)  # the older alternative of turn one
    assert s.record.head_message_id == first
    s.rewind()
    assert redo(s, prefer=first) == first  # not the newest alternative


async def test_search_finds_matches_on_every_branch(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    await play_lines(s, "the lighthouse keeper", "the brass key")
    s.rewind()
    await play_lines(s, "a lighthouse ghost")
    hits = search(s, "lighthouse")
    assert {h.snippet for h in hits} == {"the [lighthouse] keeper", "a [lighthouse] ghost"}
    assert all(h.on_path for h in hits)
    (brass,) = search(s, "brass key")
    assert brass.snippet == "the [brass] [key]" and not brass.on_path
    assert search(s, '"; DROP TABLE messages; --') == []  # words only, never FTS syntax


@pytest.mark.slow  # a long session (over a second)
async def test_a_long_session_reads_in_one_pass(engine: Engine) -> None:
    s = engine.new_session("fogbound_archive")
    fill_long_session(engine, s.id, 10_000)
    tree = story_tree(s)
    assert tree.size == 5_000  # the opening and 4,999 turns
    run = tree.run(tree.root)
    assert len(run) == tree.size and tree.head_turn == run[-1]
    assert tree.turns[run[-1]].player == "player line 4999"
