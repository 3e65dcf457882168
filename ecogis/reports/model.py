"""The table model shared by the CSV and Excel writers: areas kept in m², shown in any unit.

A :class:`Table` is rows (dicts) and :class:`Col` columns. An area column reads square metres
from its row and shows them in its unit, rounded to the unit's precision
(:data:`UNIT_DIGITS`), so the 15-digit floats and ``-1.8e-10`` of a raw sum never reach a
file; a share column reads a fraction and shows a percentage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecogis.units import area_unit

#: decimals an area is rounded to, per unit (about 1 m² or finer)
UNIT_DIGITS = {"m2": 2, "ha": 4, "km2": 6, "mu": 2, "wanmu": 6}
#: the units every Excel/CSV area column is shown in, beside the one asked for
SIDE_BY_SIDE = ("ha", "mu")


@dataclass(frozen=True)
class Col:
    """One column: the row key it reads, its header, and how its values are shown.

    ``kind`` is ``text``, ``int``, ``number`` (``digits`` decimals), ``area`` (the row holds
    m²; shown in ``unit``) or ``percent`` (the row holds a fraction; shown as percent).
    """

    key: str
    header: str
    kind: str = "text"
    unit: str | None = None
    digits: int | None = None
    csv_name: str | None = None

    @property
    def decimals(self) -> int:
        """Decimals shown: ``digits``, else the unit's precision (areas), 2 (percent, number)."""
        if self.digits is not None:
            return self.digits
        if self.kind == "area":
            return UNIT_DIGITS.get(area_unit(self.unit or "m2").id, 4)
        return 0 if self.kind == "int" else 2

    @property
    def label(self) -> str:
        """The header with its unit: ``面积（公顷）``, ``占比（%）``."""
        if self.kind == "area":
            return f"{self.header}（{area_unit(self.unit or 'm2').name_zh}）"
        if self.kind == "percent":
            return f"{self.header}（%）"
        return self.header

    @property
    def name(self) -> str:
        """The CSV header: ``csv_name``, else the key with its unit (``area_ha``, ``share_pct``)."""
        if self.csv_name:
            return self.csv_name
        if self.kind == "area":
            return f"{self.key.removesuffix('_m2')}_{area_unit(self.unit or 'm2').id}"
        if self.kind == "percent":
            return f"{self.key}_pct"
        return self.key

    def value(self, row: Mapping[str, Any]) -> Any:
        """The cell value of ``row``: areas converted and rounded, tiny negatives made 0."""
        v = row.get(self.key)
        if self.kind == "text":
            return None if v is None else (v if isinstance(v, str) else str(v))
        if v is None or isinstance(v, str):
            return v
        try:
            f = float(v)
        except (TypeError, ValueError):
            return str(v)
        if math.isnan(f) or math.isinf(f):
            return None
        if self.kind == "int":
            return int(round(f))
        if self.kind == "area":
            f = f / area_unit(self.unit or "m2").m2
        elif self.kind == "percent":
            f = f * 100.0
        return clean(f, self.decimals)


def clean(value: float, digits: int) -> float:
    """Round ``value`` to ``digits`` decimals; a result of -0.0 (a tiny negative) becomes 0."""
    r = round(float(value), digits)
    return 0.0 if r == 0 else r


def area_cols(key: str, header: str, units: Iterable[str] = SIDE_BY_SIDE) -> list[Col]:
    """Columns showing the m² in ``row[key]`` in each of ``units`` (duplicates dropped)."""
    ids = dict.fromkeys(area_unit(u).id for u in units)
    return [Col(key, header, "area", u) for u in ids]


def units_for(unit: str | None) -> tuple[str, ...]:
    """The units of an area column set: the one asked for, then 公顷 and 亩."""
    first = (area_unit(unit).id,) if unit else ()
    return tuple(dict.fromkeys(first + SIDE_BY_SIDE))


@dataclass
class Table:
    """A named table: ``name`` is the sheet name and the suffix of a second CSV file."""

    name: str
    title: str
    columns: list[Col]
    rows: list[Mapping[str, Any]]
    key: str = ""  # file-name suffix of this table's CSV (e.g. ``by_admin``); "" = the first

    def header(self) -> list[str]:
        """Column headers with units, in Chinese (Excel)."""
        return [c.label for c in self.columns]

    def names(self) -> list[str]:
        """Column names with units, ASCII (CSV): ``area_ha``, ``share_pct``."""
        return [c.name for c in self.columns]

    def values(self) -> list[list[Any]]:
        """The cells, row by row, converted and rounded."""
        return [[c.value(r) for c in self.columns] for r in self.rows]


@dataclass
class Workbook:
    """Tables written together (sheets of one .xlsx, or one CSV file each) with notes."""

    tables: list[Table]
    notes: list[tuple[str, str]] = field(default_factory=list)  # (项目, 内容) rows of 说明

    def table(self, key: str) -> Table:
        """The table whose ``key`` is ``key``."""
        return next(t for t in self.tables if t.key == key)


def rows_of(items: Sequence[Any]) -> list[dict[str, Any]]:
    """Dicts of dataclass rows (or dicts), for tables built from result objects."""
    from ecogis.report import plain

    return [plain(i) if not isinstance(i, Mapping) else dict(i) for i in items]
