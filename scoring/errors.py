"""Errors callers catch without importing torch (the command line, the server's start-up)."""


class ModelUnavailable(RuntimeError):
    """A model could not be loaded; the message says what was missing and how to fix it."""
