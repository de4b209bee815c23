"""The exception family of bt.

    BtError                      every error bt raises on purpose
    +-- BadInput                 the user's input is wrong: exit status 2, one line
    |   +-- GuestImageError      the guest file is missing, unreadable or not a guest
    |   +-- OptionError          a command-line option has a nonsense value
    +-- InternalError            a bug in bt itself, never the guest's or the user's fault
    +-- StateError               a state record does not fit what restores it (version, shape)

    TranslatorError              translator/errors.py (the translator imports nothing of bt)
    +-- TranslationError         a guest block could not be translated (reported as a guest crash)
    +-- AssemblyError            a template or encoding of the translator's is wrong (a bug)
    CacheError                   cache/errors.py: an invariant of the cache broke (a bug)

Internal errors are InternalError, AssemblyError and CacheError (INTERNAL_ERRORS): the CLI
reports them with status 70.

Guest-visible faults are not exceptions: callouts return VcpuExit values (bt.exits).
Messages name guest addresses as 0x... and the object that failed.
"""

from bt.cache.errors import CacheError
from bt.translator.errors import AssemblyError, TranslationError, TranslatorError


class BtError(Exception):
    """Base of every error bt raises on purpose."""


class BadInput(BtError):
    """The user's input is wrong; the CLI prints one line and exits with status 2."""


class GuestImageError(BadInput):
    """The guest image is missing, unreadable, malformed or does not fit guest memory."""


class OptionError(BadInput):
    """A command-line option has a value that makes no sense."""


class InternalError(BtError):
    """A bug in bt: an invariant of the engine itself was broken."""


class StateError(BtError):
    """A state record given to `restore` has another version or is malformed."""


INTERNAL_ERRORS = (InternalError, AssemblyError, CacheError)

__all__ = [
    "AssemblyError",
    "BadInput",
    "BtError",
    "CacheError",
    "GuestImageError",
    "INTERNAL_ERRORS",
    "InternalError",
    "OptionError",
    "StateError",
    "TranslationError",
    "TranslatorError",
]
