"""Screens: start, chat, and the modal dialogs (trace, options, branch)."""
