"""qualia: LLM-driven interactive fiction in the terminal."""

__version__ = "0.1.0"
