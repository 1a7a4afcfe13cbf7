"""``python -m grumpy_arrow`` runs the command line."""

import sys

from grumpy_arrow.cli import main

sys.exit(main())
