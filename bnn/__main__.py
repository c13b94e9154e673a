"""``python -m bnn COMMAND ...``: the command line of :mod:`bnn.cli`."""

from __future__ import annotations

from bnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
