"""Command line: ``radiomics-workshop <step> ...`` (also ``python -m RadiomicsWorkshopLib``).

One module per group of commands (``features``, ``models``, ``segmentation``, ``examples``); ``common`` holds
the options they share and ``runs``, the one wrapper for progress, errors and exit codes. Each command parses
its options and calls the core; the work itself is done there.

Only argparse is imported at start-up so that ``--help`` answers at once;
each step imports what it needs when it runs.

Exit status: 0 all cases done, 1 some cases failed (see the failures table),
2 the command could not run (bad option, settings, manifest, existing output).
"""

from __future__ import annotations

import argparse
import os

from . import examples, features, models, segmentation
from .common import EXIT_ERROR, EXIT_OK, EXIT_SOME_FAILED

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_SOME_FAILED", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="radiomics-workshop",
        description="RadiomicsWorkshop: the radiomics workflow from the command line "
                    "(the same core the 3D Slicer module runs).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<step>")
    features.add_parsers(sub)
    models.add_parsers(sub)
    segmentation.add_parsers(sub)
    features.add_presets(sub)
    examples.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    return args.func(args)
