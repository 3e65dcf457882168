"""Plan files (``layers/plans/<region>.toml``): the figures, indicators and contradictions of a plan.

A plan file records what one planning document declares, each number with the seed file line it
comes from: the region (name, level, period, declared total area), the spatial figures
(生态保护红线 2.52 平方公里, 耕地保有量不低于 551.37 平方公里 ...), river setbacks, the indicator
tables (baseline and targets by year) and the document's own contradictions, recorded as such.

Values are kept exactly as written (``value`` and ``unit`` of the document); the loader computes
the normalised SI value of every figure (m² for areas, a fraction for percentages, m for lengths
and distances, a plain number for counts). Nothing SI is typed by hand.

:func:`load_plan` validates a file strictly: required keys, known units, comparators and measures,
layer kinds that exist in ``layers/kinds.toml``, filters on fields the kind has, a line number on
every figure; unknown keys are refused. Errors are :class:`ecogis.errors.DataFileError` naming the
file, the entry and the key, with the fix.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecogis.data import data_path, layers_dir, read_toml
from ecogis.errors import DataFileError, InputError
from ecogis.kinds import KindRegistry, load_kinds
from ecogis.units import area_unit

__all__ = [
    "Baseline", "Figure", "Inconsistency", "Indicator", "Plan", "Region", "Setback", "Target",
    "TotalArea", "Extent", "MEASURES", "FIGURE_COMPARATORS", "TARGET_COMPARATORS", "list_plans",
    "load_plan", "number_text", "parse_plan", "plan_path", "normalize", "unit_dimension",
    "verify_citations",
]

SCHEMA = 1

#: what a figure measures, and the dimension its unit must have
MEASURES: dict[str, str] = {
    "area": "area",
    "share_of_territory": "share",
    "count": "count",
    "distance": "length",
    "length": "length",
}
#: comparators of a declared figure: 划定 X (eq), 不低于 X (ge), 不超过 X (le)
FIGURE_COMPARATORS = ("eq", "ge", "le")
#: comparators of an indicator target; the relative ones compare with the baseline
TARGET_COMPARATORS = (
    "eq", "ge", "le", "gt", "lt", "no_decrease", "no_increase", "increase", "decrease",
)
DIRECTIONS = ("higher", "lower")
CONSTRAINTS = ("约束性", "参考性", "预期性", "")
GIS = ("yes", "partial", "no")
LEVELS = ("district", "county", "city", "province")
INCONSISTENCY_TYPES = ("contradiction", "rounding", "data_note", "ambiguity")

#: default relative tolerance of a figure (counts are exact unless a tolerance is given)
DEFAULT_TOLERANCE = 0.005

_SHARE_UNITS = {"%": 0.01, "％": 0.01, "‰": 0.001}
_LENGTH_UNITS = {"米": 1.0, "m": 1.0, "公里": 1000.0, "千米": 1000.0, "km": 1000.0}
_COUNT_UNITS = ("个", "处", "座", "条", "家", "块", "项", "户", "count")
_SI_UNITS = {"area": "m2", "share": "fraction", "length": "m", "count": "count"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


# ---------------------------------------------------------------------------------- units


def unit_dimension(unit: str) -> tuple[str, float]:
    """Return ``(dimension, factor to SI)`` of a unit as plans write it.

    Areas (平方公里, 公顷, 亩, 万亩, km², m² ...) go to m² through :mod:`ecogis.units`; ``%``
    and ``‰`` to a fraction; 米/公里/千米 (m, km) to metres; 个/处/座/条/家 are counts.

    Raises
    ------
    InputError
        When the unit is none of these.
    """
    u = str(unit).strip()
    if u in _SHARE_UNITS:
        return "share", _SHARE_UNITS[u]
    if u in _LENGTH_UNITS:
        return "length", _LENGTH_UNITS[u]
    if u in _COUNT_UNITS:
        return "count", 1.0
    try:
        return "area", area_unit(u).m2
    except InputError:
        pass
    raise InputError(
        f"unknown unit {unit!r}",
        fix="use an area unit (平方公里, 公顷, 亩, 万亩, km2, ha, m2), %, ‰, 米/公里, "
        f"or a count word ({'/'.join(_COUNT_UNITS[:-1])})")


def normalize(value: float, unit: str) -> tuple[float, str]:
    """Return ``value`` in SI and the SI unit: m² for areas, fraction, m, or count."""
    dim, factor = unit_dimension(unit)
    return float(value) * factor, _SI_UNITS[dim]


# ---------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class TotalArea:
    """The territory's total area as the plan declares it (``m2`` computed by the loader)."""

    value: float
    unit: str
    m2: float
    line: int
    quote: str
    approx: bool = False


@dataclass(frozen=True)
class Extent:
    """A declared lon/lat extent (degrees, converted from the document's 度分秒)."""

    west: float
    east: float
    south: float
    north: float
    text: dict[str, str]
    line: int
    quote: str


@dataclass(frozen=True)
class Region:
    """The administrative unit a plan covers, and the plan's identity."""

    id: str
    name_zh: str
    province: str
    parent: str
    level: str
    plan_title: str
    plan_type: str
    period: tuple[int, int]
    base_year: int | None
    source: str
    extraction: str
    boundary: str
    total_area: TotalArea | None = None
    extent: Extent | None = None
    towns: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """One declared spatial figure: value and unit as written, SI value, citation, tolerance."""

    id: str
    name_zh: str
    kind: str
    measure: str
    value: float
    unit: str
    comparator: str
    si: float
    si_unit: str
    line: int
    quote: str
    source: str
    tolerance: float = DEFAULT_TOLERANCE
    filter: dict[str, tuple[str, ...]] = field(default_factory=dict)
    year: int | None = None
    count_by: str | None = None
    area_figure: str | None = None
    note: str = ""

    @property
    def declared_m2(self) -> float | None:
        """The declared area in m² (None unless the figure is an area)."""
        return self.si if self.measure == "area" else None

    @property
    def citation(self) -> str:
        """``000_87d8828f2b365ee7.txt L1364``."""
        return f"{self.source} L{self.line}"


@dataclass(frozen=True)
class Setback:
    """A declared distance from a feature (河道两边退5-10米; 岸线1公里范围内禁止 ...).

    ``min_m``/``max_m`` are computed by the loader; a single distance has ``max`` equal to
    ``min``.
    """

    id: str
    name_zh: str
    kind: str
    targets: tuple[str, ...]
    min: float
    max: float
    unit: str
    min_m: float
    max_m: float
    applies_to: str
    rule: str
    line: int
    quote: str
    source: str
    measured_from: str = ""
    note: str = ""


@dataclass(frozen=True)
class Inconsistency:
    """A contradiction, rounding slip or data note of the document, recorded not resolved."""

    id: str
    type: str
    description: str
    figures: tuple[str, ...]
    indicators: tuple[str, ...]
    lines: tuple[int, ...]
    note: str = ""


@dataclass(frozen=True)
class Baseline:
    """An indicator's present value: number (in the indicator's unit) and/or text, year, line."""

    value: float | None
    year: int | None
    text: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Target:
    """An indicator target: year, value (None = text or relative), comparator, text, line."""

    year: int | None
    value: float | None
    comparator: str | None
    text: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Indicator:
    """One row of an indicator table: baseline, targets by year, direction, constraint type."""

    id: str
    name_zh: str
    unit: str
    baseline: Baseline | None
    targets: tuple[Target, ...]
    direction: str
    constraint: str
    line: int
    line_end: int
    source: str
    table: str = ""
    row: str = ""
    standard: str = ""
    gis: str = "no"
    note: str = ""


@dataclass(frozen=True)
class Plan:
    """A loaded, validated plan file."""

    path: Path
    region: Region
    figures: tuple[Figure, ...]
    setbacks: tuple[Setback, ...]
    inconsistencies: tuple[Inconsistency, ...]
    indicators: tuple[Indicator, ...]

    @property
    def id(self) -> str:
        return self.region.id

    def figure(self, fid: str) -> Figure:
        """Return the figure ``fid`` (KeyError naming the known ids otherwise)."""
        for f in self.figures:
            if f.id == fid:
                return f
        raise KeyError(f"plan {self.id!r} has no figure {fid!r}; "
                       f"figures: {', '.join(f.id for f in self.figures)}")

    def indicator(self, iid: str) -> Indicator:
        """Return the indicator ``iid``."""
        for i in self.indicators:
            if i.id == iid:
                return i
        raise KeyError(f"plan {self.id!r} has no indicator {iid!r}")

    @property
    def boundary_path(self) -> Path:
        """The region boundary file (``layers/boundaries/<id>.gpkg``); it may not exist."""
        p = Path(self.region.boundary)
        return p if p.is_absolute() else layers_dir() / p


# -------------------------------------------------------------------------------- loading

_TOP_KEYS = {"schema", "region", "figures", "setbacks", "inconsistencies", "indicators"}
_REGION_KEYS = {
    "id", "name_zh", "province", "parent", "level", "plan_title", "plan_type", "period",
    "base_year", "source", "extraction", "boundary", "total_area", "extent", "towns", "lines",
    "note",
}
_REGION_REQUIRED = ("id", "name_zh", "province", "parent", "level", "plan_title", "period",
                    "source", "boundary")
_TOTAL_KEYS = {"value", "unit", "line", "quote", "approx"}
_EXTENT_KEYS = {"west", "east", "south", "north", "line", "quote"}
_FIGURE_KEYS = {
    "id", "name_zh", "kind", "measure", "value", "unit", "comparator", "line", "quote",
    "tolerance", "filter", "year", "count_by", "area_figure", "note", "source",
}
_FIGURE_REQUIRED = ("id", "kind", "measure", "value", "unit", "comparator", "line", "quote")
_SETBACK_KEYS = {
    "id", "name_zh", "kind", "targets", "distance", "min", "max", "unit", "applies_to", "rule",
    "line", "quote", "measured_from", "note", "source",
}
_SETBACK_REQUIRED = ("id", "kind", "unit", "applies_to", "line", "quote")
_INCONS_KEYS = {"id", "type", "description", "figures", "indicators", "lines", "note"}
_INCONS_REQUIRED = ("id", "type", "description", "lines")
_IND_KEYS = {
    "id", "name_zh", "unit", "baseline", "targets", "direction", "constraint", "line",
    "line_end", "table", "row", "standard", "gis", "note", "source",
}
_IND_REQUIRED = ("id", "name_zh", "unit", "direction", "line")
_BASE_KEYS = {"value", "year", "text", "line"}
_TARGET_KEYS = {"year", "value", "comparator", "text", "line"}


class _Ctx:
    """Error context: the file being read."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, what: str, fix: str) -> DataFileError:
        return DataFileError(f"{where}: {what}", file=str(self.path), fix=fix)

    def keys(self, where: str, table: Any, allowed: set[str], required: Iterable[str] = ()):
        if not isinstance(table, Mapping):
            raise self.fail(where, f"must be a table, not {type(table).__name__}",
                            "write it as a TOML table")
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(where, f"unknown key {unknown[0]!r}" if len(unknown) == 1
                            else f"unknown keys {unknown}",
                            f"remove it or use one of: {', '.join(sorted(allowed))}")
        for k in required:
            if k not in table or table[k] in ("", None):
                raise self.fail(where, f"missing required key {k!r}", f"add {k} = ...")

    def number(self, where: str, key: str, v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.fail(where, f"{key} must be a number, not {v!r}",
                            f"write {key} as a plain number (the text goes in quote/text)")
        return float(v)

    def line(self, where: str, v: Any, key: str = "line") -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise self.fail(where, f"{key} must be a line number (integer ≥ 1), not {v!r}",
                            f"cite the seed file line as {key} = N")
        return v

    def year(self, where: str, v: Any, key: str = "year") -> int | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not 1900 <= v <= 2100:
            raise self.fail(where, f"{key} must be a year, not {v!r}", f"write {key} = 2025")
        return v

    def text(self, where: str, key: str, v: Any, default: str = "") -> str:
        if v is None:
            return default
        if not isinstance(v, str):
            raise self.fail(where, f"{key} must be text, not {v!r}", f'write {key} = "..."')
        return v

    def choice(self, where: str, key: str, v: Any, allowed: Iterable[str]) -> str:
        allowed = tuple(allowed)
        if v not in allowed:
            raise self.fail(where, f"unknown {key} {v!r}", f"use one of: {', '.join(allowed)}")
        return v

    def unit(self, where: str, unit: Any, dim: str | None = None) -> tuple[str, float]:
        u = self.text(where, "unit", unit)
        try:
            d, factor = unit_dimension(u)
        except InputError as exc:
            raise self.fail(where, f"unknown unit {u!r}", exc.fix or "") from None
        if dim is not None and d != dim:
            raise self.fail(where, f"unit {u!r} is a {d} unit but this entry needs a {dim} unit",
                            f"give a {dim} unit")
        return d, factor


def _dms(ctx: _Ctx, where: str, text: Any) -> float:
    s = ctx.text(where, "extent", text)
    m = re.fullmatch(r"\s*(\d+)\s*[°度]\s*(?:(\d+)\s*[′'分])?\s*(?:([\d.]+)\s*[″\"秒])?\s*", s)
    if not m:
        raise ctx.fail(where, f"cannot read the angle {s!r}", 'write it as "105°37′31″"')
    d, mi, se = m.groups()
    return float(d) + float(mi or 0) / 60 + float(se or 0) / 3600


def _region(ctx: _Ctx, raw: Any) -> Region:
    ctx.keys("[region]", raw, _REGION_KEYS, _REGION_REQUIRED)
    where = "[region]"
    rid = ctx.text(where, "id", raw["id"])
    if not _ID.match(rid):
        raise ctx.fail(where, f"id {rid!r} is not a lower-case identifier", 'use e.g. id = "anju"')
    stem = ctx.path.stem
    if stem != rid and ctx.path.parent.name == "plans":
        raise ctx.fail(where, f"id {rid!r} differs from the file name {ctx.path.name!r}",
                       f"name the file {rid}.toml or set id = {stem!r}")
    level = ctx.choice(where, "level", raw["level"], LEVELS)
    period = raw["period"]
    if (not isinstance(period, list) or len(period) != 2
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in period)
            or period[0] > period[1]):
        raise ctx.fail(where, f"period must be [first_year, last_year], not {period!r}",
                       "write period = [2023, 2030]")
    total = None
    if "total_area" in raw:
        w = "[region.total_area]"
        t = raw["total_area"]
        ctx.keys(w, t, _TOTAL_KEYS, ("value", "unit", "line", "quote"))
        v = ctx.number(w, "value", t["value"])
        _, factor = ctx.unit(w, t["unit"], "area")
        approx = t.get("approx", False)
        if not isinstance(approx, bool):
            raise ctx.fail(w, "approx must be true or false", "write approx = true")
        total = TotalArea(value=v, unit=t["unit"], m2=v * factor, line=ctx.line(w, t["line"]),
                          quote=ctx.text(w, "quote", t["quote"]), approx=approx)
    extent = None
    if "extent" in raw:
        w = "[region.extent]"
        e = raw["extent"]
        ctx.keys(w, e, _EXTENT_KEYS, tuple(_EXTENT_KEYS))
        vals = {k: _dms(ctx, w, e[k]) for k in ("west", "east", "south", "north")}
        if not (vals["west"] < vals["east"] and vals["south"] < vals["north"]):
            raise ctx.fail(w, "west must be < east and south < north", "check the angles")
        extent = Extent(**vals, text={k: e[k] for k in ("west", "east", "south", "north")},
                        line=ctx.line(w, e["line"]), quote=ctx.text(w, "quote", e["quote"]))
    towns = raw.get("towns", [])
    if not isinstance(towns, list) or not all(isinstance(t, str) and t for t in towns):
        raise ctx.fail(where, "towns must be a list of names", 'write towns = ["柔刚街道", ...]')
    lines = raw.get("lines", {})
    if not isinstance(lines, Mapping):
        raise ctx.fail(where, "lines must be a table", "write lines = { plan_title = 6 }")
    for k, v in lines.items():
        if k not in _REGION_KEYS - {"lines", "total_area", "extent"}:
            raise ctx.fail("[region.lines]", f"unknown key {k!r}",
                           "cite lines of region keys only (plan_title, period, towns ...)")
        ctx.line("[region.lines]", v, k)
    if towns and "towns" not in lines:
        raise ctx.fail(where, "towns are listed without a line", "add lines = { towns = N, ... }")
    return Region(
        id=rid, name_zh=ctx.text(where, "name_zh", raw["name_zh"]),
        province=ctx.text(where, "province", raw["province"]),
        parent=ctx.text(where, "parent", raw["parent"]), level=level,
        plan_title=ctx.text(where, "plan_title", raw["plan_title"]),
        plan_type=ctx.text(where, "plan_type", raw.get("plan_type")),
        period=(period[0], period[1]),
        base_year=ctx.year(where, raw.get("base_year"), "base_year"),
        source=ctx.text(where, "source", raw["source"]),
        extraction=ctx.text(where, "extraction", raw.get("extraction")),
        boundary=ctx.text(where, "boundary", raw["boundary"]),
        total_area=total, extent=extent, towns=tuple(towns), lines=dict(lines),
        note=ctx.text(where, "note", raw.get("note")),
    )


def _filter(ctx: _Ctx, where: str, raw: Any, kind) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ctx.fail(where, "filter must be a table of field = [values]",
                       'write filter = { zone = ["核心区"] }')
    out = {}
    fields = set(kind.fields) | {"name"}
    for fname, vals in raw.items():
        if fname not in fields:
            raise ctx.fail(where, f"filter field {fname!r} is not a field of kind {kind.id!r}",
                           f"use one of: {', '.join(sorted(fields))}")
        vals = [vals] if isinstance(vals, str) else vals
        if not isinstance(vals, list) or not vals or not all(isinstance(v, str) for v in vals):
            raise ctx.fail(where, f"filter {fname!r} must list text values",
                           f'write {fname} = ["..."]')
        allowed = kind.values.get(fname)
        for v in vals:
            if allowed and v not in allowed:
                raise ctx.fail(where, f"filter {fname} value {v!r} is not a {kind.id} {fname}",
                               f"use one of: {', '.join(allowed)}")
        out[fname] = tuple(vals)
    return out


def _kind(ctx: _Ctx, where: str, kid: Any, kinds: KindRegistry):
    if not isinstance(kid, str) or kid not in kinds:
        raise ctx.fail(where, f"unknown layer kind {kid!r}",
                       f"use a kind of layers/kinds.toml: {', '.join(k.id for k in kinds)}")
    return kinds[kid]


def _figure(ctx: _Ctx, i: int, raw: Any, kinds: KindRegistry, source: str) -> Figure:
    fid = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"figure {fid!r}" if isinstance(fid, str) else f"[[figures]] #{i + 1}"
    ctx.keys(where, raw, _FIGURE_KEYS, _FIGURE_REQUIRED)
    if not _ID.match(fid):
        raise ctx.fail(where, "id is not a lower-case identifier", 'use e.g. id = "redline_area"')
    kind = _kind(ctx, where, raw["kind"], kinds)
    measure = ctx.choice(where, "measure", raw["measure"], MEASURES)
    value = ctx.number(where, "value", raw["value"])
    if value < 0:
        raise ctx.fail(where, "value must not be negative", "copy the value as written")
    dim, factor = ctx.unit(where, raw["unit"], MEASURES[measure])
    comparator = ctx.choice(where, "comparator", raw["comparator"], FIGURE_COMPARATORS)
    tol_default = 0.0 if measure == "count" else DEFAULT_TOLERANCE
    tol = ctx.number(where, "tolerance", raw.get("tolerance", tol_default))
    if not 0 <= tol < 1:
        raise ctx.fail(where, f"tolerance {tol} is not a relative tolerance in [0, 1)",
                       "write tolerance = 0.005 (0.5 %)")
    count_by = raw.get("count_by")
    if count_by is not None:
        if measure != "count":
            raise ctx.fail(where, "count_by is only for measure = \"count\"", "remove count_by")
        if count_by not in set(kind.fields) | {"name"}:
            raise ctx.fail(where, f"count_by field {count_by!r} is not a field of {kind.id!r}",
                           f"use one of: {', '.join(sorted(set(kind.fields) | {'name'}))}")
    area_fig = raw.get("area_figure")
    if area_fig is not None and measure != "share_of_territory":
        raise ctx.fail(where, "area_figure is only for share_of_territory figures",
                       "remove area_figure")
    return Figure(
        id=fid, name_zh=ctx.text(where, "name_zh", raw.get("name_zh")), kind=kind.id,
        measure=measure, value=value, unit=raw["unit"], comparator=comparator,
        si=value * factor, si_unit=_SI_UNITS[dim], line=ctx.line(where, raw["line"]),
        quote=ctx.text(where, "quote", raw["quote"]),
        source=ctx.text(where, "source", raw.get("source"), source), tolerance=tol,
        filter=_filter(ctx, where, raw.get("filter"), kind),
        year=ctx.year(where, raw.get("year")), count_by=count_by, area_figure=area_fig,
        note=ctx.text(where, "note", raw.get("note")),
    )


def _setback(ctx: _Ctx, i: int, raw: Any, kinds: KindRegistry, source: str) -> Setback:
    sid = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"setback {sid!r}" if isinstance(sid, str) else f"[[setbacks]] #{i + 1}"
    ctx.keys(where, raw, _SETBACK_KEYS, _SETBACK_REQUIRED)
    if not _ID.match(sid):
        raise ctx.fail(where, "id is not a lower-case identifier", 'use e.g. id = "river_setback"')
    kind = _kind(ctx, where, raw["kind"], kinds)
    _, factor = ctx.unit(where, raw["unit"], "length")
    if "distance" in raw:
        if "min" in raw or "max" in raw:
            raise ctx.fail(where, "give either distance or min/max", "keep one of them")
        lo = hi = ctx.number(where, "distance", raw["distance"])
    elif "min" in raw or "max" in raw:
        lo = ctx.number(where, "min", raw.get("min", 0))
        hi = ctx.number(where, "max", raw.get("max", lo))
        if hi < lo:
            raise ctx.fail(where, f"max {hi} is below min {lo}", "swap min and max")
    else:
        raise ctx.fail(where, "missing the distance", "add distance = N or min = N, max = M")
    targets = raw.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ctx.fail(where, "targets must be a list of feature names", 'targets = ["琼江"]')
    return Setback(
        id=sid, name_zh=ctx.text(where, "name_zh", raw.get("name_zh")), kind=kind.id,
        targets=tuple(targets), min=lo, max=hi, unit=raw["unit"], min_m=lo * factor,
        max_m=hi * factor, applies_to=ctx.text(where, "applies_to", raw["applies_to"]),
        rule=ctx.text(where, "rule", raw.get("rule")), line=ctx.line(where, raw["line"]),
        quote=ctx.text(where, "quote", raw["quote"]),
        source=ctx.text(where, "source", raw.get("source"), source),
        measured_from=ctx.text(where, "measured_from", raw.get("measured_from")),
        note=ctx.text(where, "note", raw.get("note")),
    )


def _str_list(ctx: _Ctx, where: str, key: str, v: Any) -> tuple[str, ...]:
    v = [] if v is None else v
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ctx.fail(where, f"{key} must be a list of ids", f'write {key} = ["..."]')
    return tuple(v)


def _inconsistency(ctx: _Ctx, i: int, raw: Any) -> Inconsistency:
    iid = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"inconsistency {iid!r}" if isinstance(iid, str) else f"[[inconsistencies]] #{i + 1}"
    ctx.keys(where, raw, _INCONS_KEYS, _INCONS_REQUIRED)
    if not _ID.match(iid):
        raise ctx.fail(where, "id is not a lower-case identifier", 'use e.g. id = "redline_units"')
    lines = raw["lines"]
    if not isinstance(lines, list) or not lines:
        raise ctx.fail(where, "lines must list the seed lines involved", "write lines = [8, 393]")
    return Inconsistency(
        id=iid, type=ctx.choice(where, "type", raw["type"], INCONSISTENCY_TYPES),
        description=ctx.text(where, "description", raw["description"]),
        figures=_str_list(ctx, where, "figures", raw.get("figures")),
        indicators=_str_list(ctx, where, "indicators", raw.get("indicators")),
        lines=tuple(ctx.line(where, n, "lines") for n in lines),
        note=ctx.text(where, "note", raw.get("note")),
    )


def _opt_number(ctx: _Ctx, where: str, key: str, v: Any) -> float | None:
    return None if v is None else ctx.number(where, key, v)


def _indicator(ctx: _Ctx, i: int, raw: Any, source: str) -> Indicator:
    iid = raw.get("id") if isinstance(raw, Mapping) else None
    where = f"indicator {iid!r}" if isinstance(iid, str) else f"[[indicators]] #{i + 1}"
    ctx.keys(where, raw, _IND_KEYS, _IND_REQUIRED)
    if not _ID.match(iid):
        raise ctx.fail(where, "id is not a lower-case identifier", 'use e.g. id = "forest_cover"')
    unit = ctx.text(where, "unit", raw["unit"])  # as the table writes it (free text)
    base = None
    if "baseline" in raw:
        w = f"{where} baseline"
        b = raw["baseline"]
        ctx.keys(w, b, _BASE_KEYS)
        if "value" not in b and "text" not in b:
            raise ctx.fail(w, "needs a value or a text", "add value = N or text = \"...\"")
        base = Baseline(value=_opt_number(ctx, w, "value", b.get("value")),
                        year=ctx.year(w, b.get("year")), text=ctx.text(w, "text", b.get("text")),
                        line=None if b.get("line") is None else ctx.line(w, b["line"]))
    targets = []
    raw_t = raw.get("targets", [])
    if not isinstance(raw_t, list):
        raise ctx.fail(where, "targets must be a list of tables", "targets = [{ year = 2025, ... }]")
    for j, t in enumerate(raw_t):
        w = f"{where} target #{j + 1}"
        ctx.keys(w, t, _TARGET_KEYS)
        val = _opt_number(ctx, w, "value", t.get("value"))
        comp = t.get("comparator")
        if comp is not None:
            comp = ctx.choice(w, "comparator", comp, TARGET_COMPARATORS)
        if val is not None and comp is None:
            raise ctx.fail(w, "a target value needs a comparator",
                           f"add comparator = one of {', '.join(FIGURE_COMPARATORS)}")
        if comp in ("eq", "ge", "le", "gt", "lt") and val is None:
            raise ctx.fail(w, f"comparator {comp!r} needs a value",
                           "add value = N, or use a relative comparator (no_decrease ...)")
        if val is None and comp is None and not t.get("text"):
            raise ctx.fail(w, "needs a value, a relative comparator or a text",
                           'add text = "..." as written')
        targets.append(Target(year=ctx.year(w, t.get("year")), value=val, comparator=comp,
                              text=ctx.text(w, "text", t.get("text")),
                              line=None if t.get("line") is None else ctx.line(w, t["line"])))
    line = ctx.line(where, raw["line"])
    line_end = ctx.line(where, raw.get("line_end", line), "line_end")
    if line_end < line:
        raise ctx.fail(where, f"line_end {line_end} is before line {line}", "swap them")
    src = ctx.text(where, "source", raw.get("source"), source)
    cite = f"{src} L{line}" + (f"–{line_end}" if line_end != line else "")
    return Indicator(
        id=iid, name_zh=ctx.text(where, "name_zh", raw["name_zh"]), unit=unit, baseline=base,
        targets=tuple(targets), direction=ctx.choice(where, "direction", raw["direction"],
                                                     DIRECTIONS),
        constraint=ctx.choice(where, "constraint", raw.get("constraint", ""), CONSTRAINTS),
        line=line, line_end=line_end, source=cite, table=ctx.text(where, "table",
                                                                  raw.get("table")),
        row=ctx.text(where, "row", raw.get("row")),
        standard=ctx.text(where, "standard", raw.get("standard")),
        gis=ctx.choice(where, "gis", raw.get("gis", "no"), GIS),
        note=ctx.text(where, "note", raw.get("note")),
    )


def _unique(ctx: _Ctx, what: str, ids: list[str]) -> None:
    seen = set()
    for i in ids:
        if i in seen:
            raise ctx.fail(f"{what} {i!r}", "id is used twice", "give every entry its own id")
        seen.add(i)


def parse_plan(raw: Mapping[str, Any], path: str | os.PathLike,
               kinds: KindRegistry | None = None) -> Plan:
    """Validate the dict of a plan file and return the :class:`Plan` (``path`` names errors)."""
    ctx = _Ctx(Path(path))
    kinds = kinds or load_kinds()
    ctx.keys("plan file", raw, _TOP_KEYS, ("schema", "region"))
    if raw["schema"] != SCHEMA:
        raise ctx.fail("schema", f"unsupported schema {raw['schema']!r}", f"write schema = {SCHEMA}")
    region = _region(ctx, raw["region"])
    for key in ("figures", "setbacks", "inconsistencies", "indicators"):
        if not isinstance(raw.get(key, []), list):
            raise ctx.fail(key, "must be an array of tables", f"write [[{key}]] entries")
    figures = [_figure(ctx, i, f, kinds, region.source) for i, f in enumerate(raw.get("figures", []))]
    setbacks = [_setback(ctx, i, s, kinds, region.source)
                for i, s in enumerate(raw.get("setbacks", []))]
    incons = [_inconsistency(ctx, i, x) for i, x in enumerate(raw.get("inconsistencies", []))]
    inds = [_indicator(ctx, i, x, region.source) for i, x in enumerate(raw.get("indicators", []))]
    _unique(ctx, "figure", [f.id for f in figures])
    _unique(ctx, "setback", [s.id for s in setbacks])
    _unique(ctx, "inconsistency", [x.id for x in incons])
    _unique(ctx, "indicator", [x.id for x in inds])
    fids = {f.id: f for f in figures}
    for f in figures:
        if f.area_figure is not None:
            a = fids.get(f.area_figure)
            if a is None or a.measure != "area" or a.kind != f.kind:
                raise ctx.fail(f"figure {f.id!r}",
                               f"area_figure {f.area_figure!r} is not an area figure of kind "
                               f"{f.kind!r} in this plan", "name an area figure of the same kind")
    iids = {x.id for x in inds}
    for x in incons:
        for r in x.figures:
            if r not in fids and r != "total_area":
                raise ctx.fail(f"inconsistency {x.id!r}", f"names unknown figure {r!r}",
                               f"use figure ids of this plan or total_area: {', '.join(fids)}")
        for r in x.indicators:
            if r not in iids:
                raise ctx.fail(f"inconsistency {x.id!r}", f"names unknown indicator {r!r}",
                               "use indicator ids of this plan")
    return Plan(path=ctx.path, region=region, figures=tuple(figures), setbacks=tuple(setbacks),
                inconsistencies=tuple(incons), indicators=tuple(inds))


def plan_path(path_or_id: str | os.PathLike) -> Path:
    """Return the plan file for a path or a bare region id (``anju`` → layers/plans/anju.toml)."""
    p = Path(path_or_id)
    if p.is_file():
        return p
    s = os.fspath(path_or_id)
    if _ID.match(s):
        q = data_path("plans", f"{s}.toml")
        if q.is_file():
            return q
        raise DataFileError(f"no plan for region {s!r}", file=str(q),
                            fix=f"use one of: {', '.join(list_plans()) or 'none'}, "
                            "or give the path of a plan file")
    raise DataFileError("plan file not found", file=s,
                        fix="give layers/plans/<region>.toml or a region id such as anju")


def load_plan(path_or_id: str | os.PathLike, *, kinds: KindRegistry | None = None) -> Plan:
    """Load and validate a plan file, by path or by region id (``load_plan("anju")``)."""
    p = plan_path(path_or_id)
    return parse_plan(read_toml(p), p, kinds)


def list_plans() -> list[str]:
    """Return the region ids of the plan files in ``layers/plans/``, sorted."""
    d = data_path("plans")
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


# ---------------------------------------------------------------------- citation checking

_FULLWIDTH = str.maketrans("０１２３４５６７８９．％", "0123456789.%")


#: small numbers a document may write in Chinese (一公里, 两个)
_CN_NUMERALS = {1.0: "一", 2.0: "两", 3.0: "三", 4.0: "四", 5.0: "五", 6.0: "六", 7.0: "七",
                8.0: "八", 9.0: "九", 10.0: "十"}


def _norm(text: str) -> str:
    """NFKC, full-width digits made ASCII, all white space removed."""
    t = unicodedata.normalize("NFKC", text).translate(_FULLWIDTH)
    return re.sub(r"\s+", "", t)


def number_text(value: float) -> str:
    """Return a number as a document writes it: ``2.52``, ``540`` (no trailing ``.0``)."""
    return f"{value:.10f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def verify_citations(plan: Plan, seeds_dir: str | os.PathLike) -> list[str]:
    """Check every citation of ``plan`` against the seed file; return the problems found.

    Each figure's and setback's quote must occur in its line, and its value in the quote;
    the total area likewise; each indicator's name must occur in its lines and its numeric
    baseline and targets in their lines; every cited line must exist.
    """
    problems: list[str] = []

    def lines_of(src: str) -> list[str] | None:
        p = Path(seeds_dir) / src
        if not p.is_file():
            problems.append(f"seed file {src} not found in {seeds_dir}")
            return None
        return p.read_text(encoding="utf-8").splitlines()

    cache: dict[str, list[str] | None] = {}

    def text(src: str, a: int, b: int | None = None) -> str | None:
        if src not in cache:
            cache[src] = lines_of(src)
        lines = cache[src]
        if lines is None:
            return None
        b = a if b is None else b
        if b > len(lines):
            problems.append(f"{src} has {len(lines)} lines; L{b} cited")
            return None
        return _norm("".join(lines[a - 1:b]))

    def check_quote(who: str, src: str, line: int, quote: str, values: Iterable[float]) -> None:
        t = text(src, line)
        if t is None:
            return
        q = _norm(quote)
        if q not in t:
            problems.append(f"{who}: quote {quote!r} not in {src} L{line}")
        for v in values:
            if number_text(v) not in q and _CN_NUMERALS.get(v, "\0") not in q:
                problems.append(f"{who}: value {number_text(v)} not in its quote {quote!r}")

    r = plan.region
    if r.total_area:
        check_quote("total_area", r.source, r.total_area.line, r.total_area.quote,
                    [r.total_area.value])
    if r.extent:
        check_quote("extent", r.source, r.extent.line, r.extent.quote, [])
    for key, ln in r.lines.items():
        t = text(r.source, ln)
        if t is None:
            continue
        if key == "towns":
            missing = [n for n in r.towns if _norm(n) not in t]
            if missing:
                problems.append(f"towns {missing} not in {r.source} L{ln}")
        elif key in ("plan_title", "parent", "name_zh", "province"):
            val = getattr(r, key)
            core = _norm(val).strip("《》")
            if core not in t:
                problems.append(f"region.{key} {val!r} not in {r.source} L{ln}")
        elif key in ("base_year",) and r.base_year is not None and str(r.base_year) not in t:
            problems.append(f"base_year {r.base_year} not in {r.source} L{ln}")
        elif key == "period" and not all(str(y) in t for y in r.period):
            problems.append(f"period {r.period} not in {r.source} L{ln}")
    for f in plan.figures:
        check_quote(f"figure {f.id}", f.source, f.line, f.quote, [f.value])
    for s in plan.setbacks:
        check_quote(f"setback {s.id}", s.source, s.line, s.quote, sorted({s.min, s.max}))
    for x in plan.inconsistencies:
        for ln in x.lines:
            text(r.source, ln)
    for ind in plan.indicators:
        src = ind.source.rsplit(" L", 1)[0]
        t = text(src, ind.line, ind.line_end)
        if t is None:
            continue
        if _norm(ind.name_zh) not in t:
            problems.append(f"indicator {ind.id}: name {ind.name_zh!r} not in "
                            f"{src} L{ind.line}–{ind.line_end}")
        parts: list[tuple[str, float | None, str, int | None]] = []
        if ind.baseline:
            parts.append(("baseline", ind.baseline.value, ind.baseline.text, ind.baseline.line))
        parts += [(f"target {tg.year}", tg.value, tg.text, tg.line) for tg in ind.targets]
        for what, val, txt, ln in parts:
            where = t if ln is None else text(src, ln)
            if where is None:
                continue
            if txt and _norm(txt) not in where:
                problems.append(f"indicator {ind.id} {what}: text {txt!r} not in "
                                f"{src} L{ln or ind.line}")
            if val is not None and number_text(val) not in where:
                problems.append(f"indicator {ind.id} {what}: value {number_text(val)} not in "
                                f"{src} L{ln or ind.line}")
    return problems
