"""``python -m ivr`` is the ``warmline`` command."""

from ivr.cli import main

if __name__ == "__main__":  # worker processes (spawn) import this module without running it
    main()
