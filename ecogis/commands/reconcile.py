"""``ecogis reconcile WORKSPACE --plan REGION``: every declared figure beside the measured one."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from ecogis.errors import InputError
from ecogis.measure import METHODS
from ecogis.reconcile import MISMATCH, reconcile
from ecogis.report import add_format_argument, emit, format_csv, format_table, plain, to_json

_SYMBOL = {"eq": "", "ge": "≥", "le": "≤"}

_COLUMNS = [
    ("id", "figure"), ("basis", "basis"), ("layer_kind", "kind"), ("declared_text", "declared"),
    ("measured", "measured"), ("difference", "difference"), ("relative_pct", "rel. diff %"),
    ("tolerance_pct", "tol %"), ("status", "status"), ("cite", "source"),
]
_CSV_COLUMNS = [
    ("id", "id"), ("name_zh", "name_zh"), ("basis", "basis"), ("layer_kind", "layer_kind"),
    ("filter", "filter"), ("measure", "measure"), ("comparator", "comparator"),
    ("declared", "declared"), ("declared_unit", "declared_unit"), ("declared_si", "declared_si"),
    ("si_unit", "si_unit"), ("declared_m2", "declared_m2"), ("measured", "measured"),
    ("measured_si", "measured_si"), ("measured_m2", "measured_m2"),
    ("difference", "difference"), ("relative_difference", "relative_difference"),
    ("tolerance", "tolerance"), ("status", "status"), ("source", "source"), ("line", "line"),
    ("layers", "layers"), ("note", "note"),
]


def register(sub) -> None:
    p = sub.add_parser(
        "reconcile", help="declared plan figures beside the measured layers",
        description="Set every figure a plan declares (layers/plans/<region>.toml: 生态保护红线, "
        "永久基本农田, 城镇开发边界 ...) beside the area measured from the workspace's layer of "
        "that kind (dissolved; ellipsoidal on CGCS2000 by default), with the difference, the "
        "tolerance and a status: ok, mismatch, or 'no data' when the layer is missing. Shares "
        "are divided by the measured territory (an admin layer of the region, else the region "
        "boundary) and by the declared total area. Exit 1 when a figure mismatches.")
    p.add_argument("workspace", nargs="?", help="workspace .gpkg (omit to check the plan "
                   "against the region boundary only)")
    p.add_argument("--plan", help="plan file or region id (anju, ziyang, shawan, yongchuan, "
                   "tongnan); default: the workspace's region")
    p.add_argument("--method", choices=METHODS, default="ellipsoidal")
    p.add_argument("--boundary", help="region boundary file (default "
                   "layers/boundaries/<region>.gpkg)")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="measure figures only on these layers (repeatable)")
    add_format_argument(p)
    p.set_defaults(func=run)


def _plan_arg(args, ws) -> str:
    if args.plan:
        return args.plan
    region = ws.meta.get("region") if ws is not None else None
    if region:
        return str(region)
    raise InputError("no plan given", fix="add --plan layers/plans/<region>.toml or --plan anju")


def _display(row: dict) -> dict:
    d = dict(row)
    d["declared_text"] = f"{_SYMBOL.get(row['comparator'], '')}{row['declared']:g} " \
        f"{row['declared_unit']}"
    rel = row["relative_difference"]
    d["relative_pct"] = None if rel is None else rel * 100
    d["tolerance_pct"] = row["tolerance"] * 100
    d["cite"] = f"L{row['line']}"
    return d


def reconcile_report(workspace=None, *, plan: str | None = None, method: str = "ellipsoidal",
                     boundary: str | None = None, layers: list[str] | None = None):
    """Reconcile like ``ecogis reconcile``: return ``(json dict, result, warnings, exit code)``."""
    if boundary and not Path(boundary).is_file():
        raise InputError("boundary file not found", file=boundary, fix="check the path")
    ws, loaded = None, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if workspace:
            from ecogis.workspace import load_target

            ws, loaded = load_target(workspace)
            if ws is None:
                raise InputError("is not an ecogis workspace", file=str(workspace),
                                 fix="import layers first: ecogis import WS.gpkg KIND FILE")
            if layers:
                unknown = sorted(set(layers) - {lyr.name for lyr in loaded})
                if unknown:
                    raise InputError(f"has no layer {unknown[0]!r}", file=str(workspace),
                                     fix="use `ecogis layers` to list them")
        result = reconcile(_plan_arg(argparse.Namespace(plan=plan), ws), loaded, method=method,
                           boundary=boundary, only=layers)
    notes = [str(w.message) for w in caught]
    d = result.as_dict()
    d["warnings"] = notes
    return d, result, notes, 1 if result.failed else 0


def run(args) -> int:
    d, result, notes, code = reconcile_report(args.workspace, plan=args.plan,
                                              method=args.method, boundary=args.boundary,
                                              layers=args.layers)
    if args.format == "json":
        emit(to_json(d))
        return code
    rows = [plain(r.as_dict()) for r in result.rows]
    if args.format == "csv":
        for r in rows:
            r["filter"] = json.dumps(r["filter"], ensure_ascii=False) if r["filter"] else ""
            r["layers"] = ";".join(r["layers"])
        emit(format_csv(rows, _CSV_COLUMNS))
        return code
    t = result.territory
    terr = "not measured" if t["m2"] is None else f"{t['m2'] / 1e6:,.3f} km² from {t['source']}"
    title = (f"Reconcile {result.region_name} ({result.region}) — {result.method_label}\n"
             f"plan {result.plan}\nterritory {terr}")
    if t["declared"]:
        title += f"; declared {t['declared']['value']:g} {t['declared']['unit']} " \
            f"(L{t['declared']['line']})"
    emit(format_table([_display(r) for r in rows], _COLUMNS, title=title))
    ext = t.get("extent")
    if ext and ext.get("offset_m"):
        off = ", ".join(f"{k} {v:,.0f} m" for k, v in ext["offset_m"].items())
        emit(f"\nextent (L{ext['line']}): declared {ext['declared']}; boundary offsets {off}")
    notes_rows = [r for r in rows if r["note"] and r["status"] != "ok"]
    if notes_rows:
        emit("\nnotes:")
        for r in notes_rows:
            emit(f"  {r['id']} [{r['basis']}]: {r['note']}")
    if result.inconsistencies:
        emit("\ninconsistencies recorded in the plan (not resolved):")
        for x in result.inconsistencies:
            lines = ", ".join(f"L{n}" for n in x["lines"])
            emit(f"  [{x['type']}] {x['id']}: {x['description']} ({lines})")
    s = result.summary
    emit(f"\n{s['ok']} ok, {s[MISMATCH]} mismatch, {s['no data']} no data")
    for n in notes:
        emit(f"warning: {n}")
    return code
