"""CLI subcommands, one module each; every module defines ``register(subparsers)``.

A command's handler takes the parsed ``argparse.Namespace`` and returns an exit code
(``None`` means 0). Handlers call the Python API and :mod:`ecogis.report`; they hold no logic.
"""
