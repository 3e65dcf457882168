"""``ecogis indicators WORKSPACE``: spatial indicators measured from data, against the plan."""

from __future__ import annotations

import warnings
from pathlib import Path

from ecogis.data import data_path
from ecogis.indicators import (
    NOT_MET,
    IndicatorRow,
    Inputs,
    indicators_report,
    load_indicators,
    plan_entries,
)
from ecogis.report import add_format_argument, emit, format_table, plain, to_json

COLUMNS = [
    ("name_zh", "indicator"),
    ("value", "value"),
    ("unit", "unit"),
    ("baseline_text", "baseline"),
    ("target_text", "target"),
    ("status", "status"),
    ("id", "id"),
]
CSV_COLUMNS = [
    ("id", "id"), ("name_zh", "name_zh"), ("value", "value"), ("unit", "unit"),
    ("baseline", "baseline"), ("baseline_year", "baseline_year"), ("target", "target"),
    ("target_year", "target_year"), ("comparator", "comparator"), ("basis", "basis"),
    ("status", "status"), ("method", "method"), ("note", "note"),
]


def register(sub) -> None:
    p = sub.add_parser(
        "indicators", help="spatial indicators (forest cover, redline share, shoreline ...) "
        "measured from layers and rasters, against the plan",
        description="Measure the indicators of layers/indicators.toml from the workspace's "
        "layers and rasters (areas ellipsoidal, lengths geodesic) and set them beside the "
        "plan's baseline and target: status met / not met / no data (a missing layer or "
        "raster is no data, never zero) / no target.")
    p.add_argument("workspace", help="workspace GeoPackage (.gpkg)")
    p.add_argument("--plan", help="plan file layers/plans/R.toml or plan id (default: the plan "
                   "of the workspace's region when one exists)")
    p.add_argument("--year", type=int, help="target year (default: the plan's earliest target)")
    p.add_argument("--id", action="append", dest="ids", metavar="ID",
                   help="only this indicator (repeatable)")
    p.add_argument("--admin", metavar="LAYER",
                   help="the layer that is the territory (default: every admin layer)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when an indicator does not meet its target")
    add_format_argument(p, choices=("table", "json", "csv", "xlsx"))
    p.add_argument("--output", "-o", metavar="FILE", help="write csv/xlsx to FILE")
    p.set_defaults(func=run)


def default_plan(ws) -> Path | None:
    """The plan file of the workspace's ``region`` metadata, when ``layers/plans/`` has one."""
    region = ws.meta.get("region")
    if not region:
        return None
    p = data_path("plans", f"{region}.toml")
    return p if p.is_file() else None


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:,.0f}"


def table_rows(rows: list[IndicatorRow]) -> list[dict]:
    """Rows for the text table: baseline with its year, target as ``≥ 32 (2025)``."""
    out = []
    for r in rows:
        base = "" if r.baseline is None else _fmt(r.baseline) + (
            f" ({r.baseline_year})" if r.baseline_year else "")
        out.append({"id": r.id, "name_zh": r.name_zh, "value": r.value, "unit": r.unit,
                    "baseline_text": base, "target_text": r.target_text, "status": r.status})
    return out


def render_table(rows: list[IndicatorRow], *, title: str | None = None) -> str:
    """The indicator table as text, notes under it (used by ``ecogis demo`` too)."""
    text = format_table(table_rows(rows), COLUMNS, digits=2, title=title)
    notes = [f"  {r.id}: {r.note}" for r in rows if r.note]
    detail = next((r for r in rows if r.detail and r.value is not None), None)
    if detail is not None:
        notes.append(f"  {detail.id} by slope class: " + ", ".join(
            f"{d['slope_class']} {d['area_m2'] / 10_000:,.1f} ha" for d in detail.detail))
    if notes:
        text += "\nnotes:\n" + "\n".join(notes)
    return text + "\nareas ellipsoidal (CGCS2000), lengths geodesic; values at 2 decimals"


def run(args) -> int:
    from ecogis.workspace import Workspace

    ws = Workspace.open(args.workspace)
    plan = args.plan or default_plan(ws)
    defs = load_indicators()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = indicators_report(Inputs.from_workspace(ws, admin=args.admin), plan,
                                 year=args.year, ids=args.ids, defs=defs)
        not_spatial = sorted(set(plan_entries(plan)) - set(defs)) if plan else []
    if args.format == "json":
        emit(to_json({
            "workspace": str(ws.path), "plan": None if plan is None else str(plan),
            "year": args.year, "unit_note": "values in each indicator's unit",
            "area_method": "ellipsoidal", "length_method": "geodesic",
            "indicators": [dict(plain(r), target_text=r.target_text) for r in rows],
            "plan_ids_not_measured": not_spatial,
            "warnings": [str(w.message) for w in caught],
        }))
    elif args.format in ("csv", "xlsx"):
        from ecogis.reports.output import write_book
        from ecogis.reports.tables import indicators_book

        for p in write_book(indicators_book(rows, plan=None if plan is None else str(plan)),
                            args.format, args.output):
            emit(f"wrote {p}")
    else:
        title = f"indicators of {ws.path.name}" + (f" against {Path(str(plan)).name}"
                                                   if plan else " (no plan)")
        emit(render_table(rows, title=title))
        if not_spatial:
            emit(f"plan indicators not measured from data: {', '.join(not_spatial)}")
        for w in caught:
            emit(f"warning: {w.message}")
    if args.check and any(r.status == NOT_MET for r in rows):
        return 1
    return 0
