"""`python -m bt`: the same as the `bt` command."""

from bt.cli import entry

entry()
