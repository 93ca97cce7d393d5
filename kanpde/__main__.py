"""`python -m kanpde ...`: the same as the `kanpde` command."""

import sys

from .cli import main

sys.exit(main())
