"""What a playthrough run produced: per check, per turn, per test, per file."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from qualia_cli.engine import TurnSummary
from qualia_cli.headless.checks import Check

RESULTS_VERSION = 1


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # a check failed (exit 1)
    ERROR = "error"  # the test could not run: cassette miss, crash, unreachable model (exit 2)


@dataclass
class CheckResult:
    check: Check
    passed: bool
    actual: str
    detail: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        """`file:line check → actual`."""
        return f"{self.check.where} {self.check.source} → {self.actual}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check.source,
            "kind": self.check.kind,
            "where": self.check.where,
            "vital": self.check.vital,
            "passed": self.passed,
            "actual": self.actual,
            **({"detail": self.detail} if self.detail else {}),
        }


@dataclass
class TurnResult:
    number: int
    step: str  # how it was written: "say: …" / "choose: 1"
    where: str
    player: str  # what was said
    summary: TurnSummary | None = None
    checks: list[CheckResult] = field(default_factory=list)
    failure: str | None = None  # the turn itself failed (partner error, no suggestion to pick)

    @property
    def passed(self) -> bool:
        return self.failure is None and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "number": self.number,
            "step": self.step,
            "where": self.where,
            "player": self.player,
            "failure": self.failure,
            "turn": s.to_dict() if s else None,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass
class TestResult:
    name: str
    where: str
    status: Status = Status.PASSED
    turns: list[TurnResult] = field(default_factory=list)
    final: list[CheckResult] = field(default_factory=list)
    error: str | None = None
    session_id: str | None = None
    seconds: float = 0.0
    partner_name: str = "Partner"

    @property
    def failures(self) -> list[str]:
        """Every failed check or turn as one `file:line check → actual` line."""
        out: list[str] = []
        for t in self.turns:
            if t.failure:
                out.append(f"{t.where} {t.step} → {t.failure}")
            out += [c.line() for c in t.checks if not c.passed]
        out += [c.line() for c in self.final if not c.passed]
        if self.error:
            out.append(self.error)
        return out

    @property
    def checks_run(self) -> int:
        return sum(len(t.checks) for t in self.turns) + len(self.final)

    def transcript(self) -> str:
        lines: list[str] = []
        for t in self.turns:
            lines.append(f"[{t.number}] Player: {t.player}")
            s = t.summary
            if s and s.narration:
                lines.append(f"    Narrator: {s.narration}")
            if s and s.ok:
                act = f"({s.action}) " if s.action else ""
                lines.append(f"    {self.partner_name}: {act}{s.reply}")
            if t.failure:
                lines.append(f"    !! {t.failure}")
            for c in t.checks:
                mark = "ok  " if c.passed else "FAIL"
                lines.append(f"    {mark} {c.check.source} → {c.actual}")
        for c in self.final:
            mark = "ok  " if c.passed else "FAIL"
            lines.append(f"final {mark} {c.check.source} → {c.actual}")
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "where": self.where,
            "status": self.status.value,
            "session_id": self.session_id,
            "seconds": round(self.seconds, 3),
            "error": self.error,
            "failures": self.failures,
            "turns": [t.to_dict() for t in self.turns],
            "final": [c.to_dict() for c in self.final],
        }


@dataclass
class FileResult:
    path: Path
    scenario: str
    tests: list[TestResult] = field(default_factory=list)
    error: str | None = None  # the file could not run at all
    cassette: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        if self.error or any(t.status is Status.ERROR for t in self.tests):
            return Status.ERROR
        if any(t.status is Status.FAILED for t in self.tests):
            return Status.FAILED
        return Status.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "scenario": self.scenario,
            "status": self.status.value,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "cassette": self.cassette,
            "tests": [t.to_dict() for t in self.tests],
        }


def exit_code(files: list[FileResult]) -> int:
    """0 when everything passed, 1 when a check failed, 2 when something could not run."""
    statuses = {f.status for f in files}
    if Status.ERROR in statuses:
        return 2
    if Status.FAILED in statuses:
        return 1
    return 0


def results_dict(files: list[FileResult]) -> dict[str, Any]:
    tests = [t for f in files for t in f.tests]
    return {
        "version": RESULTS_VERSION,
        "status": ["passed", "failed", "error"][exit_code(files)],
        "exit_code": exit_code(files),
        "summary": {
            "files": len(files),
            "tests": len(tests),
            "passed": sum(t.status is Status.PASSED for t in tests),
            "failed": sum(t.status is Status.FAILED for t in tests),
            "errors": sum(t.status is Status.ERROR for t in tests)
            + sum(bool(f.error) for f in files),
        },
        "files": [f.to_dict() for f in files],
    }
