"""Errors that reach a user as a clear message, never a traceback."""


class RedlineError(Exception):
    """Base class: the CLI prints the message and exits non-zero."""


class InputError(RedlineError):
    """Bad input: missing, empty, binary, wrongly encoded or malformed."""


class ModelError(RedlineError):
    """A model folder that is missing or does not load."""
