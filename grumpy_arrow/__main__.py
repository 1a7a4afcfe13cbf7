"""``python -m grumpy_arrow`` runs the command line."""

import sys

from grumpy_arrow.cli import main

if __name__ == "__main__":  # not when a documentation tool imports the package's modules
    sys.exit(main())
