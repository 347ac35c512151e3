"""`qualia doctor` says which agents the small profile does not ask and that the embedded
model is refused as a Scenario Generator (engine/models_info.ModelsService.capability_checks)."""

from __future__ import annotations

from qualia_cli.config import load_settings
from qualia_cli.engine import Engine


def _rows(**overrides: object) -> dict[str, str]:
    engine = Engine(load_settings(**overrides))
    return {r["check"]: r["detail"] for r in engine.models.capability_checks()}


def test_the_small_profile_and_the_generator_refusal_are_reported() -> None:
    rows = _rows()
    assert "not asked (small profile" in rows["agent director"]
    assert "not asked (small profile, no ComfyUI" in rows["agent visual"]
    assert "`scenario new` refuses it" in rows["agent generator"]
    assert rows["agent partner"].endswith("nothing degrades")


def test_the_full_profile_asks_every_agent() -> None:
    rows = _rows(profile="full")
    assert "not asked" not in rows["agent director"] + rows["agent visual"]
