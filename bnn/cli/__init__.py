"""The command line, ``python -m bnn COMMAND``: ``fit`` trains on points and writes the posterior
predictive table as CSV (:mod:`bnn.cli.fit`), ``predict`` does the same from a saved model
(:mod:`bnn.cli.predict`), ``uci`` runs the UCI benchmark (:mod:`bnn.cli.uci`), ``classify`` trains
a classifier and scores it on held-out points (:mod:`bnn.cli.classify`).

To add a subcommand, write ``add_<name>(subparsers)`` that declares its options and
``set_defaults(run=...)``, and list it in :func:`build_parser`. Every input error ends
as one line ``error: ...`` on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from bnn.cli.classify import add_classify
from bnn.cli.fit import add_fit
from bnn.cli.inputs import UsageError
from bnn.cli.options import Parser
from bnn.cli.predict import add_predict
from bnn.cli.uci import add_uci
from bnn.errors import BNNError
from bnn.train import set_threads

EXIT_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m bnn",
                    description="Bayes-by-Backprop regression and classification (Blundell et al. 2015).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in (add_fit, add_predict, add_uci, add_classify):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 bad input, 2 bad usage, 130 interrupted)."""
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("choose a command: fit, predict, uci or classify (python -m bnn COMMAND --help)")
        set_threads(getattr(args, "threads", 1))
        return args.run(args)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except BNNError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except OSError as exc:  # a file that cannot be read or written
        return _fail(f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)


def _fail(message: str, code: int) -> int:
    print("error: " + " ".join(message.split()), file=sys.stderr)  # one line, whatever the message held
    return code
