"""Where the project's data files live (``layers/``), and reading TOML data files.

The data directory is ``$ECOGIS_LAYERS`` when set, else the ``layers/`` folder beside the
package (a source checkout or an editable install).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ecogis.errors import DataFileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def layers_dir() -> Path:
    """Return the directory holding kinds, plans, rules and boundaries."""
    env = os.environ.get("ECOGIS_LAYERS")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parent.parent / "layers")
    for c in candidates:
        if (c / "kinds.toml").is_file():
            return c
    raise DataFileError(
        "cannot find the ecogis data directory (layers/ with kinds.toml)",
        fix="install ecogis from a source checkout with `pip install -e .`, "
        "or set ECOGIS_LAYERS to the layers/ folder",
    )


def data_path(*parts: str) -> Path:
    """Return a path inside the data directory, e.g. ``data_path("plans", "anju.toml")``."""
    return layers_dir().joinpath(*parts)


def read_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a TOML data file; a syntax error names the file and line."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise DataFileError("file not found", file=str(p), fix="check the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataFileError(f"invalid TOML: {exc}", file=str(p), fix="correct the syntax") from None


def check_keys(spec: Mapping[str, Any], allowed: set[str] | frozenset[str], what: str,
               path: str | os.PathLike | None) -> None:
    """Raise :class:`DataFileError` when the table ``spec`` has keys outside ``allowed``.

    One message for every data file: ``<what> has unknown keys [...] (fix: use only [...])``.
    """
    unknown = set(spec) - set(allowed)
    if unknown:
        raise DataFileError(f"{what} has unknown keys {sorted(unknown)}",
                            file=None if path is None else str(path),
                            fix=f"use only {sorted(allowed)}")


@lru_cache(maxsize=64)
def _cached_toml(path: str, mtime: float) -> dict[str, Any]:
    return read_toml(path)


def read_toml_cached(path: str | os.PathLike) -> dict[str, Any]:
    """Like :func:`read_toml` but cached until the file changes."""
    p = Path(path)
    return _cached_toml(str(p), p.stat().st_mtime if p.exists() else 0.0)
