"""``python -m sealbox``: the same as the ``sealbox`` command."""

import sys

from sealbox.cli import main

sys.exit(main())
