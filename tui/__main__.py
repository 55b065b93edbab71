"""`python -m optimstep.tui`: the same as the `optimstep` command."""

import sys

from .cli import main

sys.exit(main())
