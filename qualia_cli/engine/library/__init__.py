"""The library of sessions: portable copies (export/import), transcripts (Markdown, JSON),
files written for ctrl+s, and housekeeping (rename, archive, delete)."""
