"""The ``ecogis`` command line: a thin layer over the Python API.

Each subcommand lives in its own module under :mod:`ecogis.commands` and exposes
``register(subparsers)``; this module discovers them, parses arguments, and maps errors to
exit codes: 0 ok, 1 a check failed (e.g. a diff verdict ``fail``), 2 bad input (one line on
stderr, never a traceback). Set ``ECOGIS_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
import warnings

from ecogis import __version__
from ecogis.errors import EcogisError, InputError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: what is wrong and where the help is (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} "
                  f"(fix: see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand of :mod:`ecogis.commands`."""
    parser = ArgumentParser(
        prog="ecogis",
        description="ecogis: 三区三线 control lines — areas, conflicts, siting, change, maps.",
    )
    parser.add_argument("--version", action="version", version=f"ecogis {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import ecogis.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"ecogis.commands.{info.name}")
        module.register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"ecogis: {category.__name__}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used as the console-script entry point)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line usage error (exit 2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    debug = bool(os.environ.get("ECOGIS_DEBUG"))
    warnings.showwarning = _show_warning
    try:
        code = args.func(args)
    except (InputError, EcogisError) as exc:
        if debug:
            traceback.print_exc()
        print(f"ecogis: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LookupError as exc:  # codecs: unknown --encoding
        print(f"ecogis: error: {exc} (fix: use an encoding such as gbk, gb18030 or utf-8)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except FileNotFoundError as exc:
        print(f"ecogis: error: {exc.filename or exc}: file not found (fix: check the path)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ecogis: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an ecogis bug: say so in one line, traceback on request
        if debug:
            traceback.print_exc()
        print(
            f"ecogis: internal error: {type(exc).__name__}: {exc} "
            "(run with ECOGIS_DEBUG=1 for the traceback and report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_OK if code is None else int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
