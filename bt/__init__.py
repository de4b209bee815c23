"""bt: a binary-translation full-virtualization engine for x86 guests on a Unicorn CPU."""

__version__ = "0.1.0"
