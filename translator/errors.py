"""The translator's errors (it imports nothing of bt: bt/errors.py places them in its tree)."""


class TranslatorError(Exception):
    """Base of the errors the translator raises on purpose."""


class TranslationError(TranslatorError):
    """A guest block could not be translated (undecodable bytes, unsupported encoding or mode);
    the monitor reports it as a guest crash at the block's address."""


class AssemblyError(TranslatorError):
    """An encoding the translator relies on is wrong (Keystone refused or mis-encoded a
    template): a bug in bt, never the guest's fault."""
