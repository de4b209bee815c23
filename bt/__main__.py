"""`python -m bt`: the same as the `bt` command."""

import sys

from bt.cli import main

sys.exit(main())
