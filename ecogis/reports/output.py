"""Writing a command's tables or report where ``--format`` and ``--output`` say.

``csv`` with ``--output`` writes one UTF-8-BOM file per table (``name.csv``, then
``name.<table>.csv``); without it, the first table goes to stdout and a note on stderr names
the others. ``xlsx``, ``docx`` and ``pdf`` need ``--output``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ecogis.errors import InputError
from ecogis.report import emit
from ecogis.reports.model import Workbook


def write_book(book: Workbook, fmt: str, output: str | None) -> list[Path]:
    """Write ``book`` as ``csv`` or ``xlsx`` to ``output`` (csv: stdout when None)."""
    from ecogis.reports.csv import csv_paths, table_text, write_csv
    from ecogis.reports.xlsx import write_xlsx

    if fmt == "xlsx":
        if not output:
            raise InputError("--format xlsx writes a file", fix="add --output FILE.xlsx")
        return [write_xlsx(book, output)]
    if output:
        return write_csv(book, output)
    emit(table_text(book.tables[0]).rstrip("\n"))
    if len(book.tables) > 1:
        others = ", ".join(p.name for p in csv_paths(book, "OUT.csv")[1:])
        print(f"ecogis: note: {len(book.tables) - 1} more table(s); pass --output OUT.csv "
              f"to write them too ({others})", file=sys.stderr)
    return []


def write_check(result, fmt: str, output: str | None, *, unit: str | None = None) -> list[Path]:
    """Write the report (html, docx, pdf) or the tables (xlsx, csv) of a siting check."""
    if fmt in ("xlsx", "csv"):
        from ecogis.reports.tables import check_book

        return write_book(check_book(result, unit=unit or "m2"), fmt, output)
    if fmt == "html":
        from ecogis.reports.html import render_review_html

        page = render_review_html(result, unit=unit)
        if not output:
            emit(page)
            return []
        from ecogis.atomic import atomic_write_bytes

        atomic_write_bytes(Path(output), page.encode("utf-8"))
        return [Path(output)]
    if not output:
        raise InputError(f"--format {fmt} writes a file", fix=f"add --output FILE.{fmt}")
    if fmt == "docx":
        from ecogis.reports.docx import write_docx

        return [write_docx(result, output, unit=unit)]
    if fmt == "pdf":
        from ecogis.reports.pdf import write_pdf

        return [write_pdf(result, output, unit=unit)]
    raise InputError(f"unknown report format {fmt!r}", fix="use html, docx, pdf, xlsx or csv")
