"""The ``ecogis`` command line: a thin layer over the Python API.

Each subcommand lives in its own module under :mod:`ecogis.commands` and exposes
``register(subparsers)``. Only the module of the command being run is imported: the others
are listed from :data:`COMMANDS` (name, module, help) so ``ecogis --version``, ``--help`` and
light commands start without geopandas. This module parses arguments and maps errors to
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


#: command → (module of :mod:`ecogis.commands`, the one-line help ``ecogis --help`` lists).
#: A command module not listed here still works: it is imported at start-up (slower).
COMMANDS: dict[str, tuple[str, str]] = {
    "areas": ("areas", "areas of layers: dissolved, ellipsoidal by default"),
    "check": ("check", "project siting check: verdicts with citations (合规性审查)"),
    "demo": ("demo", "build the synthetic 安居区 demo workspace and run the analyses on it"),
    "diff": ("diff", "compare two versions of a layer: lost, gained, net, nature, 占补平衡"),
    "import": ("import_", "import a data file (SHP, GDB, zip, GPKG, GeoJSON, FGB, TAB/MIF, DXF, "
               "KML/KMZ, xlsx/csv coordinate lists, 界址点 TXT) as a layer"),
    "indicators": ("indicators", "spatial indicators (forest cover, redline share, shoreline "
                   "...) measured from layers and rasters, against the plan"),
    "kinds": ("kinds", "list the layer kinds (layers/kinds.toml)"),
    "layers": ("layers", "list the layers of a workspace"),
    "map": ("map", "write an interactive map (single HTML file that works offline)"),
    "migrate": ("migrate", "bring a workspace to GeoPackage 1.2 with QGIS styles and rasters "
                "inside"),
    "overlaps": ("overlaps", "三线冲突: overlap matrix of layers, conflict polygons, per town"),
    "plans": ("plans", "list, validate and show plan files (declared figures, indicators)"),
    "reconcile": ("reconcile", "declared plan figures beside the measured layers"),
    "rules": ("rules", "list the siting rulebook as a coverage table (layers/rules/*.toml)"),
    "serve": ("serve", "HTTP service: siting checks, layers, areas, reports (API keys)"),
    "topology": ("topology", "topology checks: self-overlaps, gaps in coverages, slivers"),
}


def _requested(argv: list[str] | None) -> str | None:
    """Return the command named on the command line (the first non-option word), if any."""
    args = sys.argv[1:] if argv is None else argv
    for a in args:
        if not a.startswith("-"):
            return a
        if a in ("-h", "--help", "--version"):
            return None  # (-q/--quiet come before the command and are skipped)
    return None


def build_parser(argv: list[str] | None = None, *, load_all: bool = False) -> argparse.ArgumentParser:
    """Return the argument parser of ``ecogis``.

    Only the command ``argv`` names (every command with ``load_all=True``) gets its full
    parser from its module's ``register``; the others are listed with their help text from
    :data:`COMMANDS` without importing their modules.
    """
    parser = ArgumentParser(
        prog="ecogis",
        description="ecogis: 三区三线 control lines — areas, conflicts, siting, change, maps.",
    )
    parser.add_argument("--version", action="version", version=f"ecogis {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bars on stderr (also ECOGIS_QUIET=1; bars are only "
                        "drawn on a terminal anyway)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import ecogis.commands as commands

    wanted = _requested(argv)
    listed = {module: name for name, (module, _) in COMMANDS.items()}
    entries = []  # (command name, module name or None when listed lazily)
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        name = listed.get(info.name)
        if name is None:  # not in COMMANDS: import it to learn its name
            entries.append((None, info.name))
        else:
            entries.append((name, info.name))
    for name, module in sorted(entries, key=lambda e: e[0] or e[1]):
        if load_all or name is None or name == wanted:
            importlib.import_module(f"ecogis.commands.{module}").register(sub)
        else:
            sub.add_parser(name, help=COMMANDS[name][1], add_help=False)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"ecogis: {category.__name__}: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also used as the console-script entry point)."""
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line usage error (exit 2)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    debug = bool(os.environ.get("ECOGIS_DEBUG"))
    if getattr(args, "quiet", False):
        from ecogis.progress import set_quiet

        set_quiet()
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
