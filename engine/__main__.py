"""`python -m engine` is `specsync`."""

import sys

from engine.cli import main

sys.exit(main())
