"""The translation cache's error (it imports nothing of bt: bt/errors.py places it in its tree)."""


class CacheError(Exception):
    """An invariant of the translation cache was broken: a bug in bt, never the guest's fault."""
