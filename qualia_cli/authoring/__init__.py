"""Scenario authoring: the generator's orchestration, character cards, YAML writing, lint."""
