"""Headless front end: playthrough scripts with checks (`qualia run`) and evaluations
(`qualia eval`). Drives the engine facade only; never the model or database layers."""
