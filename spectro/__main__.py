"""``python -m spectro`` — the same as the ``spectro`` command."""

import sys

from spectro.cli import main

if __name__ == "__main__":  # worker processes (spawn) import this module without running it
    sys.exit(main())
