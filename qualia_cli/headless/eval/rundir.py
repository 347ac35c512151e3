"""An eval run on disk: the spec, one transcript file per cell (saved as soon as the cell
ends, so an interrupted run resumes), the judges' verdicts and the report.

    <data>/evals/<run id>/
      run.json            id, name, source file, when, the planned cells
      spec.yaml           the eval file as it was
      cells/<cell>.json   each cell's transcript and status
      verdicts.json       every verdict (rescore rewrites it)
      report.json         metrics, judge scores, thresholds
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qualia_cli.errors import QualiaError
from qualia_cli.paths import get_paths

RUN_VERSION = 1


@dataclass(frozen=True)
class Cell:
    model_set: str
    scenario: str  # scenario id (or file) the cell plays
    player: str  # "simulated:<n>" or "script:<file>:<test>"
    seed: int

    @property
    def id(self) -> str:
        raw = f"{self.model_set}__{Path(self.scenario).stem}__{self.player}__s{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, **asdict(self)}


class RunNotFoundError(QualiaError):
    """`qualia eval rescore RUN` or `--resume RUN` named a run that is not there."""


def evals_dir() -> Path:
    return get_paths().data_dir / "evals"


def new_run_id(name: str) -> str:
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")
    tmp.replace(path)


@dataclass
class RunDir:
    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, name: str, source: Path, spec_text: str, cells: list[Cell]) -> RunDir:
        run = cls(evals_dir() / new_run_id(name))
        suffix = 1
        while run.path.exists():  # two runs in one second
            suffix += 1
            run = cls(evals_dir() / f"{new_run_id(name)}-{suffix}")
        run.path.mkdir(parents=True)
        (run.path / "spec.yaml").write_text(spec_text, encoding="utf-8")
        _write_json(
            run.path / "run.json",
            {
                "version": RUN_VERSION,
                "id": run.id,
                "name": name,
                "source": str(source.resolve()),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "cells": [c.to_dict() for c in cells],
            },
        )
        return run

    @classmethod
    def find(cls, ref: str) -> RunDir:
        """A run by id (or unique prefix) under the data dir, or by path."""
        p = Path(ref).expanduser()
        if (p / "run.json").is_file():
            return cls(p)
        root = evals_dir()
        hits = sorted(d for d in root.glob(f"{ref}*") if (d / "run.json").is_file())
        if len(hits) == 1:
            return cls(hits[0])
        known = sorted(d.name for d in root.glob("*") if (d / "run.json").is_file())
        if len(hits) > 1:
            raise RunNotFoundError(
                f"'{ref}' matches several runs: {', '.join(h.name for h in hits)}"
            )
        hint = f" (runs: {', '.join(known[-5:])})" if known else f" (no runs in {root})"
        raise RunNotFoundError(f"no eval run '{ref}'{hint}")

    def info(self) -> dict[str, Any]:
        return json.loads((self.path / "run.json").read_text())

    def spec_file(self) -> Path:
        return self.path / "spec.yaml"

    def cell_path(self, cell_id: str) -> Path:
        return self.path / "cells" / f"{cell_id}.json"

    def save_cell(self, cell_id: str, data: dict[str, Any]) -> None:
        _write_json(self.cell_path(cell_id), data)

    def load_cell(self, cell_id: str) -> dict[str, Any] | None:
        path = self.cell_path(cell_id)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:  # cut off mid-write by a crash: play it again
            return None

    def cells(self) -> list[dict[str, Any]]:
        out = []
        for entry in self.info()["cells"]:
            data = self.load_cell(entry["id"])
            if data is not None:
                out.append(data)
        return out

    def load_verdicts(self) -> list[dict[str, Any]]:
        path = self.path / "verdicts.json"
        if not path.is_file():
            return []
        return list(json.loads(path.read_text()).get("verdicts", []))

    def save_verdicts(self, verdicts: list[dict[str, Any]]) -> None:
        _write_json(self.path / "verdicts.json", {"version": RUN_VERSION, "verdicts": verdicts})

    def save_report(self, report: dict[str, Any]) -> None:
        _write_json(self.path / "report.json", report)
