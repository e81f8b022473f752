"""``python -m sealbox``: the same as the ``sealbox`` command."""

from sealbox.cli import console

console()
