"""Run an eval matrix: model sets × scenarios × players × seeds, concurrently within a limit.

Transcripts are saved first (one file per cell, as soon as it ends) and judged afterwards,
so `qualia eval rescore RUN` re-judges without replaying and an interrupted run resumes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qualia_cli.config import AGENT_ROLES, ModelsConfig, Settings, load_settings
from qualia_cli.engine import USER_ERRORS, Engine, TurnSummary, not_recorded, pinned_settings
from qualia_cli.headless.eval.metrics import build_report
from qualia_cli.headless.eval.rundir import Cell, RunDir
from qualia_cli.headless.eval.spec import EvalSpec, ModelSet, PlayerSpec
from qualia_cli.headless.loader import Playthrough, TestPlan, load_playthrough, resolve_scenario
from qualia_cli.headless.runner import (
    PlaythroughRunner,
    RunError,
    RunOptions,
    default_engine,
    select_tests,
)
from qualia_cli.scenario.loader import load_scenario

if TYPE_CHECKING:
    from qualia_cli.engine import Cassette

Progress = Callable[[str, int], None]  # ("turns" | "judgements", how many done now)
EngineFactory = Callable[[Settings, Path | None], Engine]


@dataclass
class EvalOptions:
    mode: str = "replay"
    cassette: Path | None = None  # overrides the spec's `cassette:`


@dataclass
class _Player:
    spec: PlayerSpec
    play: Playthrough | None = None
    test: TestPlan | None = None


def model_settings(base: Settings, model_set: ModelSet) -> Settings:
    models = model_set.role_models()
    default = models.get("default", base.models.default)
    if model_set.model:
        config = ModelsConfig(default=default, **dict.fromkeys(AGENT_ROLES, default))
    else:
        config = ModelsConfig(**{"default": default, **models})
    update: dict[str, Any] = {"models": config}
    if model_set.temperature is not None:
        update["temperature"] = model_set.temperature
    return base.model_copy(update=update)


def transcript_text(cell: dict[str, Any], *, images: bool = False) -> str:
    name = cell.get("partner_name", "Partner")
    lines = []
    for t in cell["turns"]:
        lines.append(f"Player: {t.get('player_text', '')}")
        if t.get("narration"):
            lines.append(f"Narrator: {t['narration']}")
        if t.get("ok"):
            act = f"({t['action']}) " if t.get("action") else ""
            lines.append(f"{name}: {act}{t.get('reply', '')}")
            if images and t.get("visual"):
                lines.append(f"[image] {t['visual']['prompt']}")
    return "\n".join(lines)


@dataclass
class EvalRunner:
    spec: EvalSpec
    source: Path
    options: EvalOptions = field(default_factory=EvalOptions)
    progress: Progress | None = None
    engine_factory: EngineFactory = default_engine
    base_settings: Settings | None = None
    cassette: Cassette | None = None
    _players: dict[str, _Player] = field(default_factory=dict)
    _engines: dict[str, Engine] = field(default_factory=dict)

    # -- planning -----------------------------------------------------------------------

    def plan(self) -> list[Cell]:
        """Every cell of the matrix (loads the scripts; raises DocumentError/RunError)."""
        cells: list[Cell] = []
        players: list[tuple[str, _Player, list[str]]] = []
        for n, p in enumerate(self.spec.players, start=1):
            if p.simulated is not None:
                label = f"simulated{n}"
                self._players[label] = _Player(p)
                players.append((label, self._players[label], list(self.spec.scenarios)))
                continue
            assert p.script is not None
            play = load_playthrough(self.source.parent / p.script)
            tests = select_tests(play, p.tests)
            if not tests:
                names = ", ".join(t.name for t in play.tests)
                raise RunError(f"{self.source}: no test of {p.script} matches {p.tests} ({names})")
            for test in tests:
                label = f"{play.path.name.split('.')[0]}.{test.name}"
                self._players[label] = _Player(p, play, test)
                players.append((label, self._players[label], [str(play.scenario_path)]))
        for model_set in self.spec.model_sets:
            for label, _, scenarios in players:
                for scenario in scenarios:
                    for seed in self.spec.seeds:
                        cells.append(Cell(model_set.label, scenario, label, seed))
        self._check_before_running({c.scenario for c in cells})
        return cells

    def _check_before_running(self, scenarios: set[str]) -> None:
        """Scenarios and model names that cannot work fail the run before it starts (exit 2),
        instead of playing 0 turns and passing."""
        for ref in sorted(scenarios):
            resolve_scenario(ref, self.source)  # ScenarioError: one line, exit 2
        names: list[tuple[str, str]] = []
        for ms in self.spec.model_sets:
            names += [(f"model set '{ms.label}' {role}", m) for role, m in ms.role_models().items()]
        for n, p in enumerate(self.spec.players, start=1):
            if p.simulated is not None and p.simulated.model:
                names.append((f"player {n}", p.simulated.model))
        names += [("judge", j) for j in self.judge_models()]
        engine = self.engine_factory(self._settings(), None)  # describes names, opens nothing
        problems = engine.models.problems(names)
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise RunError(f"{self.source}: {problems[0]}{more}")

    def planned_turns(self, cells: list[Cell]) -> int:
        total = 0
        for cell in cells:
            player = self._players[cell.player]
            if player.spec.simulated is not None:
                total += player.spec.simulated.turns
            else:
                assert player.test is not None
                total += len(player.test.steps)
        return total

    # -- engines and cassette -----------------------------------------------------------

    def _settings(self) -> Settings:
        if self.base_settings is None:  # may be asked (plan checks) before the cassette opens
            with_cassette = self.options.mode != "live" and bool(
                self.options.cassette or self.spec.cassette
            )
            self.base_settings = pinned_settings(
                load_settings(), self.spec.sampling, with_cassette=with_cassette
            )
        return self.base_settings

    def open_cassette(self) -> None:
        mode = self.options.mode
        path = self.options.cassette or (
            (self.source.parent / self.spec.cassette).resolve() if self.spec.cassette else None
        )
        if mode == "live" or path is None:
            if mode in ("record", "record-missing"):
                raise RunError(f"{self.source}: --{mode} needs --cassette FILE or `cassette:`")
            return
        from qualia_cli.engine import Cassette

        self.cassette = Cassette.open(path, mode)

    def engine(self, key: str, settings: Settings, db_path: Path | None) -> Engine:
        engine = self._engines.get(key)
        if engine is None:
            engine = self.engine_factory(settings, db_path)
            if self.cassette is not None:
                engine.use_cassette(self.cassette.path, self.cassette.mode, shared=self.cassette)
            self._engines[key] = engine
        return engine

    async def aclose(self) -> None:
        for engine in self._engines.values():
            await engine.aclose()
        self._engines.clear()
        if self.cassette is not None:
            self.cassette.save()

    # -- playing ------------------------------------------------------------------------

    async def play(self, run: RunDir, cells: list[Cell], *, resume: bool = False) -> None:
        limit = asyncio.Semaphore(self.spec.concurrency)
        sets = {m.label: m for m in self.spec.model_sets}

        async def one(cell: Cell) -> None:
            done = run.load_cell(cell.id) if resume else None
            if done is not None and done.get("status") != "error":
                self._tell("turns", self.planned_turns([cell]))
                return
            async with limit:
                settings = model_settings(self._settings(), sets[cell.model_set])
                engine = self.engine(
                    cell.model_set, settings, run.path / f"sessions-{cell.model_set}.db"
                )
                data = await self._play_cell(engine, cell)
                run.save_cell(cell.id, data)

        await asyncio.gather(*(one(c) for c in cells))

    def _tell(self, what: str, n: int) -> None:
        if self.progress is not None and n:
            self.progress(what, n)

    async def _play_cell(self, engine: Engine, cell: Cell) -> dict[str, Any]:
        started = time.monotonic()
        player = self._players[cell.player]
        models = {r: engine.settings.models.for_agent(r) for r in AGENT_ROLES}
        data: dict[str, Any] = {
            "version": 1,
            "cell": cell.to_dict(),
            "status": "ok",
            "error": None,
            "models": {"default": engine.settings.models.default, **models},
            "temperature": engine.settings.temperature,
            "turns": [],
            "checks": None,
            "player_errors": [],
        }
        try:
            if player.spec.simulated is not None:
                await self._simulated(engine, cell, player, data)
            else:
                await self._scripted(engine, cell, player, data)
        except USER_ERRORS as err:
            data["status"], data["error"] = "error", str(err)
        except Exception as err:  # a bug: this cell errs, the others go on
            data["status"], data["error"] = "error", f"crashed: {type(err).__name__}: {err}"
        missed = [
            e["message"]
            for t in data["turns"]
            for e in t.get("errors") or []
            if "cassette miss" in e.get("message", "")
        ]
        if missed:
            data["status"], data["error"] = "error", missed[0]
        elif data["status"] == "ok" and any(not t.get("ok") for t in data["turns"]):
            data["status"] = "failed"
        data["seconds"] = round(time.monotonic() - started, 3)
        return data

    async def _simulated(
        self, engine: Engine, cell: Cell, player: _Player, data: dict[str, Any]
    ) -> None:
        sim = player.spec.simulated
        assert sim is not None
        path = resolve_scenario(cell.scenario, self.source)
        session = engine.new_session(str(path), title=f"eval: {cell.id}", seed=cell.seed)
        data["scenario_path"] = str(path)
        data["partner_name"] = session.scenario.partner.name
        for n in range(sim.turns):
            line = await engine.player_line(session, goal=sim.goal, model=sim.model, seed=cell.seed)
            if line.text is None:
                data["player_errors"].append(line.error)
                self._tell("turns", sim.turns - n)
                return
            summary = TurnSummary()
            async for event in session.turn(line.text):
                summary.add(event)
            data["turns"].append(summary.to_dict())
            self._tell("turns", 1)
            if not summary.ok or summary.ending:
                self._tell("turns", sim.turns - n - 1)
                return

    async def _scripted(
        self, engine: Engine, cell: Cell, player: _Player, data: dict[str, Any]
    ) -> None:
        assert player.play is not None and player.test is not None
        plan = replace(player.test, seed=cell.seed)
        data["scenario_path"] = str(player.play.scenario_path)
        data["partner_name"] = player.play.scenario.partner.name
        runner = PlaythroughRunner(RunOptions(mode=self.options.mode))
        result = await runner.run_test(engine, player.play, plan, self.cassette)
        data["turns"] = [t.summary.to_dict() for t in result.turns if t.summary is not None]
        results = [c for t in result.turns for c in t.checks] + result.final
        data["checks"] = {
            "passed": sum(c.passed for c in results),
            "total": len(results),
            "failures": result.failures,
        }
        self._tell("turns", len(plan.steps))
        if result.error:
            data["status"], data["error"] = "error", result.error

    # -- judging ------------------------------------------------------------------------

    def judge_models(self) -> list[str]:
        return list(self.spec.judges) or [self._settings().models.for_agent("judge")]

    def judgements_needed(self, cells: list[dict[str, Any]], done: set[tuple[str, ...]]) -> list:
        out = []
        rubrics = self.spec.rubric_texts()
        for cell in cells:
            if cell["status"] == "error" or not any(t.get("ok") for t in cell["turns"]):
                continue
            for judge in self.judge_models():
                for rubric in rubrics:
                    if (cell["cell"]["id"], judge, rubric) not in done:
                        out.append((cell, judge, rubric))
        return out

    async def judge(self, run: RunDir, *, fresh: bool = False) -> list[dict[str, Any]]:
        """Judge every saved transcript (only the missing verdicts unless `fresh`)."""
        cells = run.cells()
        verdicts = [] if fresh else run.load_verdicts()
        done = {(v["cell"], v["judge"], v["rubric"]) for v in verdicts}
        todo = self.judgements_needed(cells, done)
        rubrics = self.spec.rubric_texts()
        limit = asyncio.Semaphore(self.spec.concurrency)
        engine = self.engine("__judge__", self._settings(), run.path / "sessions-judge.db")
        scenarios: dict[str, Any] = {}

        async def one(cell: dict[str, Any], judge: str, rubric: str) -> None:
            path = cell["scenario_path"]
            if path not in scenarios:
                scenarios[path] = load_scenario(path)
            transcript = transcript_text(cell, images=rubric == "image_faithfulness")
            async with limit:
                verdict = await engine.judge(
                    scenarios[path],
                    rubric=rubrics[rubric],
                    transcript=transcript,
                    model=judge,
                    seed=cell["cell"]["seed"],
                )
            record = verdict.to_dict()
            record.update(
                cell=cell["cell"]["id"],
                model_set=cell["cell"]["model_set"],
                judge=judge,
                rubric=rubric,
            )
            verdicts.append(record)
            run.save_verdicts(verdicts)
            self._tell("judgements", 1)

        await asyncio.gather(*(one(*job) for job in todo))
        run.save_verdicts(verdicts)
        return verdicts

    def report(self, run: RunDir) -> dict[str, Any]:
        cells = run.cells()
        report = build_report(self.spec, run.id, cells, run.load_verdicts())
        if self.cassette is not None and self.cassette.misses:
            report["status"], report["exit_code"] = "error", 2
            report["errors"].append({"cell": None, "error": str(self.cassette.misses[0])})
        if self.cassette is not None and self.cassette.records and self.cassette.skipped:
            report["status"], report["exit_code"] = "error", 2
            for call in self.cassette.skipped:
                report["errors"].append({"cell": None, "error": not_recorded(call)})
        run.save_report(report)
        return report
