"""`qualia doctor`: check everything a session needs, each check one row."""

from __future__ import annotations

import time
from typing import Any

from qualia_cli.config import AGENT_ROLES
from qualia_cli.engine.facade import Engine
from qualia_cli.llm.base import Request
from qualia_cli.paths import get_paths

Check = dict[str, Any]


def _row(check: str, ok: bool, detail: str) -> Check:
    return {"check": check, "ok": ok, "detail": detail}


async def run_checks(engine: Engine) -> list[Check]:
    paths = get_paths()
    checks: list[Check] = []
    cfg = paths.config_file
    checks.append(_row("config", True, str(cfg) if cfg.is_file() else f"{cfg} (none; defaults)"))
    try:
        probe = paths.ensure().data_dir / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        checks.append(_row("data dir", True, str(paths.data_dir)))
    except OSError as err:
        checks.append(_row("data dir", False, f"{paths.data_dir}: {err}"))
    try:
        sessions = engine.library.list_sessions(include_archived=True)
        checks.append(_row("database", True, f"{paths.db_path} ({len(sessions)} sessions)"))
    except Exception as err:
        checks.append(_row("database", False, f"{paths.db_path}: {err}"))
    scen = engine.list_scenarios()
    bad = [str(s) for _, s in scen if isinstance(s, Exception)]
    checks.append(
        _row("scenarios", not bad, f"{len(scen) - len(bad)} ok" + (f"; {bad[0]}" if bad else ""))
    )
    checks.append(await engine.pictures.check())
    names = sorted({engine.settings.models.for_agent(r) for r in AGENT_ROLES})
    for name in names:
        checks.append(await _check_model(engine, name))
    checks.extend(engine.models.capability_checks())  # what each agent loses on its model
    return checks


async def _check_model(engine: Engine, name: str) -> Check:
    """Ask the model for one token: proves the key, the host and the model name."""
    started = time.monotonic()
    try:
        provider, model_id = engine.router.resolve(name)
        await provider.complete(
            Request(
                messages=[{"role": "user", "content": "Say OK."}],
                model=model_id,
                max_tokens=1,
                temperature=0.0,
                agent="doctor",
            )
        )
    except Exception as err:
        return _row(f"model {name}", False, str(err))
    return _row(f"model {name}", True, f"answered in {(time.monotonic() - started) * 1000:.0f} ms")
