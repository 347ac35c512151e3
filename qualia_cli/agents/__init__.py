"""Agents: prompt template + output schema + pure context -> messages. No I/O here."""
