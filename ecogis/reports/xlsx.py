"""Excel workbooks (openpyxl): one sheet per table, Chinese headers with units, real numbers.

Numbers are stored as numbers with a fixed-decimal ``number_format`` (areas to their unit's
precision, shares in percent with ``（%）`` in the header), so Excel sums them; a last sheet
``说明`` holds the method, units, sources and warnings.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from ecogis.atomic import atomic_write_bytes
from ecogis.reports.model import Col, Table, Workbook

_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def _fmt(col: Col) -> str | None:
    if col.kind in ("text",):
        return None
    if col.kind == "int":
        return "#,##0"
    d = col.decimals
    return "#,##0" + ("." + "0" * d if d else "")


def _sheet_title(name: str, used: set[str]) -> str:
    base = _BAD_SHEET.sub("_", name)[:31] or "表"
    title, i = base, 2
    while title in used:
        title = f"{base[:28]}_{i}"
        i += 1
    used.add(title)
    return title


def workbook_bytes(book: Workbook) -> bytes:
    """Return ``book`` as the bytes of an .xlsx file."""
    from openpyxl import Workbook as XWorkbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = XWorkbook()
    wb.remove(wb.active)
    used: set[str] = set()
    head_font = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="E8E8E8")
    for t in book.tables:
        ws = wb.create_sheet(_sheet_title(t.name, used))
        _write_table(ws, t, head_font, head_fill, Alignment, get_column_letter)
    if book.notes:
        ws = wb.create_sheet(_sheet_title("说明", used))
        ws.append(["项目", "内容"])
        for c in ws[1]:
            c.font, c.fill = head_font, head_fill
        for k, v in book.notes:
            ws.append([k, v])
        ws.column_dimensions["A"].width = 16
        ws.column_dimensions["B"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _write_table(ws, t: Table, head_font, head_fill, alignment, letter) -> None:
    ws.append(t.header())
    for c in ws[1]:
        c.font, c.fill = head_font, head_fill
        c.alignment = alignment(wrap_text=True, vertical="center")
    fmts = [_fmt(c) for c in t.columns]
    rows = t.values()
    for values in rows:
        ws.append(values)
    for j, col in enumerate(t.columns, start=1):
        if fmts[j - 1]:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if isinstance(cell.value, (int, float)):
                    cell.number_format = fmts[j - 1]
        width = max([len(col.label) * 2] + [_width(r[j - 1]) for r in rows[:200]])
        ws.column_dimensions[letter(j)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = "A2"


def _width(v) -> int:
    s = "" if v is None else str(v)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in s)


def write_xlsx(book: Workbook, path: str | os.PathLike) -> Path:
    """Write ``book`` to ``path`` (.xlsx) atomically and return the path."""
    p = Path(path)
    atomic_write_bytes(p, workbook_bytes(book))
    return p
