"""``python -m spectro`` — the same as the ``spectro`` command."""

import sys

from spectro.cli import main

sys.exit(main())
