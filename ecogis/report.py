"""Rendering results as table, JSON, CSV or Markdown: the only place output is formatted.

Numbers in JSON are plain numbers (NumPy scalars converted, NaN -> null).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

Column = tuple[str, str]  # (key in the row dict, header shown)


def plain(obj: Any) -> Any:
    """Return ``obj`` with NumPy scalars, dataclasses and paths made JSON-plain."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return plain(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [plain(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    """Serialise ``obj`` as JSON with Chinese text kept readable."""
    return json.dumps(plain(obj), ensure_ascii=False, indent=indent)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        if math.isnan(float(value)):
            return "—"
        return f"{float(value):,.{digits}f}"
    return str(value)


def format_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    digits: int = 4,
    title: str | None = None,
) -> str:
    """Return ``rows`` as an aligned text table (CJK characters count double width)."""
    header = [h for _, h in columns]
    body = [[_cell(r.get(k), digits) for k, _ in columns] for r in rows]
    numeric_cols = [
        all(isinstance(r.get(k), (int, float, np.integer, np.floating)) and not isinstance(
            r.get(k), (bool, np.bool_)) for r in rows if r.get(k) is not None) and rows != []
        for k, _ in columns
    ]
    widths = [max([_width(h)] + [_width(b[i]) for b in body]) for i, h in enumerate(header)]

    def line(cells: list[str], is_header: bool = False) -> str:
        out = []
        for i, c in enumerate(cells):
            pad = widths[i] - _width(c)
            out.append(" " * pad + c if numeric_cols[i] and not is_header else c + " " * pad)
        return "  ".join(out).rstrip()

    lines = [title] if title else []
    lines.append(line(header, True))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(line(b) for b in body)
    return "\n".join(lines)


def format_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Return ``rows`` as CSV with the column keys as header (plain numbers)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([k for k, _ in columns])
    for r in rows:
        w.writerow(["" if plain(r.get(k)) is None else plain(r.get(k)) for k, _ in columns])
    return buf.getvalue()


def format_markdown(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, digits: int = 4
) -> str:
    """Return ``rows`` as a GitHub-flavoured Markdown table."""
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = [
        "| " + " | ".join(_cell(r.get(k), digits).replace("|", "\\|") for k, _ in columns) + " |"
        for r in rows
    ]
    return "\n".join([head, sep, *body])


def emit(text: str, out=None) -> None:
    """Write ``text`` and a newline to ``out`` (default stdout)."""
    (out or sys.stdout).write(text.rstrip("\n") + "\n")


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (metres, m², ...); NaN and inf are refused."""
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    return v


def positive_int(text: str) -> int:
    """argparse type: a whole number > 0."""
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return v


def add_format_argument(parser, choices=("table", "json", "csv"), default="table") -> None:
    """Add the standard ``--format`` option to a subcommand parser."""
    parser.add_argument(
        "--format", choices=list(choices), default=default, help=f"output format (default {default})"
    )
