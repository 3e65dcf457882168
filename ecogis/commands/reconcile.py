"""``ecogis reconcile WORKSPACE --plan REGION``: every declared figure beside the measured one."""

from __future__ import annotations

import warnings
from pathlib import Path

from ecogis.errors import InputError
from ecogis.measure import METHODS
from ecogis.reconcile import MISMATCH, reconcile
from ecogis.report import add_format_argument, emit, format_table, plain, to_json

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
                   help="measure figures only on these layers (repeatable); on a landuse "
                   "layer (or with --area-field): declared against measured area per parcel")
    p.add_argument("--area-field", metavar="FIELD",
                   help="per-parcel mode: the declared-area field (default the layer's "
                   "declared_area role, TBMJ/图斑面积 on a landuse layer)")
    p.add_argument("--tolerance-m2", type=float, metavar="M2",
                   help="per-parcel mode: allowed |measured − declared| per parcel, m² "
                   "(default 0.1)")
    add_format_argument(p, choices=("table", "json", "csv", "xlsx"))
    p.add_argument("--output", "-o", metavar="FILE", help="write csv/xlsx to FILE")
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


def _parcel_mode(args, layers) -> bool:
    """Per-parcel mode: --area-field/--tolerance-m2 given, or only landuse layers named."""
    if not args.layers:
        return False
    if args.area_field or args.tolerance_m2 is not None:
        return True
    if args.plan:
        return False
    from ecogis.landuse import LANDUSE_KIND

    kinds = {lyr.name: lyr.kind.id for lyr in layers}
    return all(kinds.get(n) == LANDUSE_KIND for n in args.layers)


_PARCEL_COLUMNS = [("layer", "layer"), ("bsm", "BSM"), ("id", "fid"), ("declared", "declared m²"),
                   ("measured", "measured m²"), ("difference", "difference m²"),
                   ("status", "status")]


def run_parcels(args, ws, layers) -> int:
    """``reconcile WS --layer L``: declared (TBMJ) against measured area, parcel by parcel."""
    from ecogis.landuse import check_parcels

    tol = 0.1 if args.tolerance_m2 is None else args.tolerance_m2
    if not tol >= 0:
        raise InputError(f"--tolerance-m2 {args.tolerance_m2} is negative",
                         fix="give a tolerance ≥ 0 in m², e.g. --tolerance-m2 0.1")
    by_name = {lyr.name: lyr for lyr in layers}
    checks = []
    for name in args.layers:
        lyr = by_name[name]
        fmap = ws.info(name).field_map if ws is not None else {}
        checks.append(check_parcels(lyr.gdf, layer=name, area_field=args.area_field,
                                    tolerance_m2=tol, method=args.method, field_map=fmap))
    mism = [{"layer": c.layer, **m} for c in checks for m in c.mismatches]
    code = 1 if mism else 0
    if args.format == "json":
        emit(to_json({
            "workspace": str(args.workspace), "mode": "parcels", "method": args.method,
            "method_label": checks[0].method_label if checks else args.method, "unit": "m2",
            "tolerance_m2": tol, "status": "mismatch" if mism else "ok",
            "layers": [{k: v for k, v in c.as_dict().items() if k != "mismatches"}
                       for c in checks],
            "mismatches": mism,
        }))
        return code
    if args.format in ("csv", "xlsx"):
        from ecogis.reports.model import Col, Table, Workbook
        from ecogis.reports.output import write_book

        cols = [Col("layer", "图层"), Col("bsm", "标识码 BSM"), Col("id", "要素号", "int"),
                Col("declared", "申报面积 (m²)", "number", digits=2),
                Col("measured", "量算面积 (m²)", "number", digits=2),
                Col("difference", "差值 (m²)", "number", digits=2), Col("status", "状态")]
        book = Workbook([Table("逐图斑核对", f"逐图斑面积核对（{checks[0].method_label if checks else args.method}，"
                               f"容差 {tol:g} m²）", cols, mism)],
                        notes=[("面积方法", checks[0].method_label if checks else args.method),
                               ("容差", f"{tol:g} m²")])
        for p in write_book(book, args.format, args.output):
            emit(f"wrote {p}")
        return code
    for c in checks:
        emit(f"Reconcile {c.layer}: declared {c.area_field} against measured area per parcel — "
             f"{c.method_label}; tolerance {c.tolerance_m2:g} m²\n"
             f"{c.checked} of {c.parcels} parcels checked: {len(c.mismatches)} mismatch; "
             f"Σ declared {c.declared_m2:,.2f} m², Σ measured {c.measured_m2:,.2f} m²"
             + (f"; no declared area: {len(c.missing)} parcel(s)" if c.missing else ""))
    if mism:
        emit("")
        emit(format_table([{**m, "bsm": "—" if m["bsm"] is None else str(m["bsm"])}
                           for m in mism], _PARCEL_COLUMNS, digits=2))
    return code


def run(args) -> int:
    if args.boundary and not Path(args.boundary).is_file():
        raise InputError("boundary file not found", file=args.boundary, fix="check the path")
    ws, layers = None, []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.workspace:
            from ecogis.workspace import load_target

            ws, layers = load_target(args.workspace)
            if ws is None:
                raise InputError("is not an ecogis workspace", file=args.workspace,
                                 fix="import layers first: ecogis import WS.gpkg KIND FILE")
            if args.layers:
                unknown = sorted(set(args.layers) - {lyr.name for lyr in layers})
                if unknown:
                    raise InputError(f"has no layer {unknown[0]!r}", file=args.workspace,
                                     fix="use `ecogis layers` to list them")
            if _parcel_mode(args, layers):
                return run_parcels(args, ws, layers)
        result = reconcile(_plan_arg(args, ws), layers, method=args.method,
                           boundary=args.boundary, only=args.layers)
    notes = [str(w.message) for w in caught]
    code = 1 if result.failed else 0
    if args.format == "json":
        d = result.as_dict()
        d["warnings"] = notes
        emit(to_json(d))
        return code
    rows = [plain(r.as_dict()) for r in result.rows]
    if args.format in ("csv", "xlsx"):
        from ecogis.reports.output import write_book
        from ecogis.reports.tables import reconcile_book

        for p in write_book(reconcile_book(result), args.format, args.output):
            emit(f"wrote {p}")
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
