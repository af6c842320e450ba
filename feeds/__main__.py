"""`python3 -m feeds`: the `feeds` command."""

import sys

from feeds.cli import main

sys.exit(main())
