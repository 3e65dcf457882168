"""CSV tables for Excel: UTF-8 with a BOM, one table per file, numbers rounded to their unit.

``write_csv(book, "areas.csv")`` writes the first table to ``areas.csv`` and every further
table to its own file beside it, ``areas.<key>.csv`` (e.g. ``areas.by_admin.csv``). Excel on a
Chinese Windows reads UTF-8 only when the file starts with a BOM.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ecogis.atomic import atomic_write_bytes
from ecogis.reports.model import Table, Workbook

BOM = "\ufeff"


def table_text(table: Table, *, bom: bool = False) -> str:
    """Return ``table`` as CSV text: a header of column names with units (``area_ha``,
    ``share_pct``: stable for scripts; the Chinese headers are the Excel sheets'), then the
    rounded values; an empty cell where there is no value."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if bom else "\n")
    w.writerow(table.names())
    for row in table.values():
        w.writerow(["" if v is None else v for v in row])
    return (BOM if bom else "") + buf.getvalue()


def csv_paths(book: Workbook, path: str | os.PathLike) -> list[Path]:
    """The file of each table of ``book``: ``path``, then ``stem.<key>.csv`` beside it."""
    p = Path(path)
    stem = p.name[:-4] if p.name.lower().endswith(".csv") else p.name
    out = []
    for i, t in enumerate(book.tables):
        out.append(p if i == 0 else p.with_name(f"{stem}.{t.key or t.name}.csv"))
    return out


def write_csv(book: Workbook, path: str | os.PathLike) -> list[Path]:
    """Write each table of ``book`` to its own CSV file (UTF-8 BOM, CRLF); return the paths.

    Each file is written atomically (temporary file in the same folder, then renamed).
    """
    paths = csv_paths(book, path)
    for t, p in zip(book.tables, paths, strict=True):
        atomic_write_bytes(p, table_text(t, bom=True).encode("utf-8"))
    return paths
