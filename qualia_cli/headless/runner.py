"""Run playthrough tests: each test a fresh session driven through the engine facade.

A test plays its turns in order; after each turn its checks run on that turn (regtest style:
a text check passes if found anywhere in the turn). A failing `vital` check stops the test.
`final` checks run on the whole test. A cassette miss, an unreachable model or a crash makes
the test an error (exit 2), not a failure (exit 1).
"""

from __future__ import annotations

import fnmatch
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.config import AGENT_ROLES, ModelsConfig, Settings, load_settings
from qualia_cli.engine import (
    USER_ERRORS,
    Engine,
    GameSession,
    TurnSummary,
    not_recorded,
    pinned_settings,
)
from qualia_cli.errors import QualiaError
from qualia_cli.headless.checks import Check
from qualia_cli.headless.evaluate import Subject, evaluate
from qualia_cli.headless.loader import Playthrough, Step, TestPlan
from qualia_cli.headless.results import CheckResult, FileResult, Status, TestResult, TurnResult
from qualia_cli.headless.scratch import new_scratch

if TYPE_CHECKING:
    from qualia_cli.engine import Cassette

# a fatal partner error with one of these codes means the model could not be reached at all
INFRA_CODES = frozenset({"auth", "credits", "unreachable", "config", "not_found"})
MODES = ("replay", "record", "record-missing", "live")


class RunError(QualiaError):
    """A run that cannot start (e.g. --record without a cassette)."""


@dataclass
class RunOptions:
    mode: str = "replay"
    cassette: Path | None = None  # overrides the script's own `cassette:`
    model: str | None = None  # every agent (overrides the script)
    judge_model: str | None = None
    keep_sessions: bool = False  # play in the user's database instead of a scratch one


Progress = Callable[[str, TestResult, TurnResult | None], None]


def script_settings(play_models: dict[str, str], model: str | None = None) -> Settings:
    """The user's settings with the script's models (or `model` for every agent)."""
    settings = load_settings()
    if model:
        models = ModelsConfig(default=model, **dict.fromkeys(AGENT_ROLES, model))
    elif play_models:
        models = ModelsConfig(**{"default": settings.models.default, **play_models})
    else:
        return settings
    return settings.model_copy(update={"models": models})


def select_tests(play: Playthrough, patterns: list[str]) -> list[TestPlan]:
    if not patterns:
        return list(play.tests)
    return [t for t in play.tests if any(fnmatch.fnmatchcase(t.name, p) for p in patterns)]


def transcript_lines(turns: list[TurnSummary], partner: str) -> str:
    lines = []
    for s in turns:
        lines.append(f"Player: {s.player_text}")
        if s.narration:
            lines.append(f"Narrator: {s.narration}")
        if s.ok:
            act = f"({s.action}) " if s.action else ""
            lines.append(f"{partner}: {act}{s.reply}")
    return "\n".join(lines)


def default_engine(settings: Settings, db_path: Path | None) -> Engine:
    """An engine for headless runs: story text and image prompts, no pictures drawn (checks
    read the Visual Director's prompt; pictures of scratch sessions would only pile up in the
    user's images directory)."""
    return Engine(settings, db_path=db_path, pictures=False)


@dataclass
class PlaythroughRunner:
    options: RunOptions = field(default_factory=RunOptions)
    progress: Progress | None = None
    cassettes: dict[Path, Cassette] = field(default_factory=dict)
    # builds each file's engine (settings, scratch database); tests inject providers here
    engine_factory: Callable[[Settings, Path | None], Engine] = default_engine

    def _cassette_for(self, engine: Engine, play: Playthrough) -> Cassette | None:
        mode = self.options.mode
        path = self.options.cassette or play.cassette
        if mode == "live":
            return None
        if path is None:
            if mode in ("record", "record-missing"):
                raise RunError(
                    f"{play.path}: --{mode} needs a cassette: pass --cassette FILE "
                    "or add `cassette: FILE` to the script"
                )
            return None  # nothing to replay: the run is live
        key = path.resolve()
        shared = self.cassettes.get(key)
        cassette = engine.use_cassette(key, mode, shared=shared)
        self.cassettes[key] = cassette
        return cassette

    def save_cassettes(self) -> None:
        for cassette in self.cassettes.values():
            cassette.save()

    async def run_file(self, play: Playthrough, patterns: list[str]) -> FileResult:
        started = time.monotonic()
        result = FileResult(play.path, play.scenario.id)
        settings = script_settings(play.models, self.options.model)
        with_cassette = self.options.mode != "live" and bool(self.options.cassette or play.cassette)
        settings = pinned_settings(settings, play.sampling, with_cassette=with_cassette)
        scratch = None
        if not self.options.keep_sessions:
            scratch = new_scratch()
        engine = self.engine_factory(settings, scratch / "sessions.db" if scratch else None)
        try:
            problems = _model_problems(engine, play)
            if problems:  # before anything runs: no test plays with a model that cannot work
                result.error = problems[0]
                return result
            cassette = self._cassette_for(engine, play)
            for plan in select_tests(play, patterns):
                result.tests.append(await self.run_test(engine, play, plan, cassette))
            if cassette is not None:
                result.cassette = {
                    "path": str(cassette.path),
                    "mode": cassette.mode.value,
                    "replayed": cassette.replayed,
                    "recorded": cassette.recorded,
                    "unused": None if patterns else cassette.unused,
                    "not_recorded": list(cassette.skipped),
                }
        finally:
            await engine.aclose()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        result.seconds = time.monotonic() - started
        return result

    async def run_test(
        self, engine: Engine, play: Playthrough, plan: TestPlan, cassette: Cassette | None
    ) -> TestResult:
        started = time.monotonic()
        result = TestResult(plan.name, plan.where, partner_name=play.scenario.partner.name)
        self._tell("test", result, None)
        skipped = len(cassette.skipped) if cassette is not None else 0
        try:
            session = engine.new_session(
                str(play.scenario_path),
                title=f"play: {play.path.name}:{plan.name}",
                start_state=plan.state,
                seed=plan.seed,
            )
            result.session_id = session.id
            await self._play(engine, session, plan, result, cassette)
        except USER_ERRORS as err:
            result.status, result.error = Status.ERROR, f"{plan.where}: {err}"
        except Exception as err:  # a bug: report it as this test's error, run the others
            result.status = Status.ERROR
            result.error = f"{plan.where}: crashed: {type(err).__name__}: {err}"
        if cassette is not None and cassette.records and len(cassette.skipped) > skipped:
            result.status = Status.ERROR  # loud: a cassette with a hole fails a later replay
            result.error = not_recorded(cassette.skipped[skipped], plan.where)
        result.seconds = time.monotonic() - started
        self._tell("done", result, None)
        return result

    def _tell(self, what: str, test: TestResult, turn: TurnResult | None) -> None:
        if self.progress is not None:
            self.progress(what, test, turn)

    async def _play(
        self,
        engine: Engine,
        session: GameSession,
        plan: TestPlan,
        result: TestResult,
        cassette: Cassette | None,
    ) -> None:
        start_state = session.state.snapshot()
        summaries: list[TurnSummary] = []
        misses = len(cassette.misses) if cassette else 0

        def missed() -> str | None:
            if cassette is not None and len(cassette.misses) > misses:
                return str(cassette.misses[misses])
            return None

        for number, step in enumerate(plan.steps, start=1):
            turn = TurnResult(number, step.label, step.where, "")
            result.turns.append(turn)
            text = self._player_text(step, summaries, turn)
            if text is None:
                result.status = Status.FAILED
                return
            turn.player = text
            summary = TurnSummary()
            async for event in session.turn(text):
                summary.add(event)
            turn.summary = summary
            if (miss := missed()) is not None:
                result.status, result.error = Status.ERROR, miss
                return
            if not summary.ok:
                turn.failure = f"turn failed: {summary.failure}"
                fatal = [e for e in summary.errors if e.get("fatal")]
                infra = any(e["code"] in INFRA_CODES for e in fatal)
                result.status = Status.ERROR if infra else Status.FAILED
                return
            summaries.append(summary)
            self._tell("turn", result, turn)
            subject = Subject(
                [summary], summary.state_before, summary.state_after, session.scenario, number
            )
            stop = await self._checks(engine, session, step.checks, subject, turn.checks)
            if (miss := missed()) is not None:
                result.status, result.error = Status.ERROR, miss
                return
            if not turn.passed:
                result.status = Status.FAILED
            if stop:
                return
        if summaries:
            subject = Subject(
                summaries,
                start_state,
                summaries[-1].state_after,
                session.scenario,
                len(summaries),
                final=True,
            )
            await self._checks(engine, session, plan.final, subject, result.final)
            if (miss := missed()) is not None:
                result.status, result.error = Status.ERROR, miss
                return
            if not all(c.passed for c in result.final):
                result.status = Status.FAILED

    def _player_text(self, step: Step, previous: list[TurnSummary], turn: TurnResult) -> str | None:
        if step.kind == "say":
            return step.text
        offered = previous[-1].suggestions if previous else []
        if not offered:
            turn.failure = "no suggestions to choose from (the Strategist offered none)"
            return None
        if step.index is not None:
            if step.index > len(offered):
                turn.failure = f"no suggestion {step.index}: the Strategist offered {len(offered)}"
                return None
            return offered[step.index - 1].get("text") or None
        assert step.pattern is not None
        for suggestion in offered:
            if step.pattern.search(suggestion.get("text", "")):
                return suggestion["text"]
        texts = "; ".join(s.get("text", "") for s in offered)
        turn.failure = f"no suggestion matches {step.pattern_text} (offered: {texts})"
        return None

    async def _checks(
        self,
        engine: Engine,
        session: GameSession,
        checks: list[Check],
        subject: Subject,
        out: list[CheckResult],
    ) -> bool:
        """Run `checks` into `out`; True when a vital check failed (the test stops)."""
        for check in checks:
            if check.kind == "judge":
                result = await self._judge(engine, session, check, subject)
            else:
                outcome = evaluate(check, subject)
                result = CheckResult(check, outcome.passed, outcome.actual, outcome.detail)
            out.append(result)
            if check.vital and not result.passed:
                return True
        return False

    async def _judge(
        self, engine: Engine, session: GameSession, check: Check, subject: Subject
    ) -> CheckResult:
        transcript = transcript_lines(subject.turns, session.scenario.partner.name)
        verdict = await engine.judge(
            session.scenario,
            rubric=str(check.value),
            transcript=transcript,
            model=check.model or self.options.judge_model,
            seed=int(session.record.settings.get("seed") or 0),
        )
        detail: dict[str, Any] = verdict.to_dict()
        if not verdict.ok:  # an unparseable verdict is a failure, never a pass
            return CheckResult(check, False, verdict.error or "no verdict", detail)
        assert verdict.score is not None
        passed = verdict.score >= check.min_score
        actual = f"score {verdict.score}/5 (needs {check.min_score}): {verdict.explanation}"
        return CheckResult(check, passed, actual, detail)


def _model_problems(engine: Engine, play: Playthrough) -> list[str]:
    models = engine.settings.models
    names = [(f"{play.path}: model for {r}", models.for_agent(r)) for r in AGENT_ROLES]
    return engine.models.problems(names)
