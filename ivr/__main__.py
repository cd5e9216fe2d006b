"""``python -m ivr`` is the ``warmline`` command."""

from ivr.cli import main

main()
