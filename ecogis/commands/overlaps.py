"""``ecogis overlaps WORKSPACE``: the 三线冲突 matrix, conflict polygons, and both per town."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from ecogis import engine as engines
from ecogis.areas import zone_layer
from ecogis.conflicts import load_conflict_rules
from ecogis.crs import crs_label
from ecogis.engine import add_engine_arguments
from ecogis.errors import InputError
from ecogis.jsonstream import Stream, records, write_document
from ecogis.measure import METHODS
from ecogis.overlay import CONFLICT_COLUMNS, OverlapAnalysis, write_gpkg
from ecogis.progress import bar
from ecogis.report import add_format_argument, emit, format_table, plain
from ecogis.units import AREA_UNITS, area_unit
from ecogis.workspace import load_target

SEVERITY_CHOICES = ("high", "medium", "low")
#: tables leave out overlaps below 1000 mm² (slivers where boundaries only touch)
SHOWN_M2 = 1e-3


def register(sub) -> None:
    p = sub.add_parser(
        "overlaps", help="三线冲突: overlap matrix of layers, conflict polygons, per town",
        description="Dissolved overlap area of every pair of layers (a layer's own overlaps "
        "count once; ellipsoidal by default), the conflicts the rules in "
        "layers/conflicts.toml name (生态保护红线 × 永久基本农田, 永久基本农田 × 城镇开发边界, ...) "
        "as polygons with the feature ids and names of both sides, and with --by admin the "
        "same per town. Exit 0, or 1 with --fail-on when conflicts of that severity exist.")
    p.add_argument("workspace", help="workspace .gpkg (or WS.gpkg:LAYER, or a data file)")
    p.add_argument("--layers", nargs="+", metavar="NAME",
                   help="only these layers (default: every polygon layer but admin and landuse "
                   "ones)")
    p.add_argument("--unit", default="km2", help=f"{', '.join(AREA_UNITS)} (or 亩, 公顷)")
    p.add_argument("--method", choices=METHODS, default="ellipsoidal")
    p.add_argument("--by", metavar="LAYER|KIND",
                   help="also split by zones: an admin layer name, or a kind (admin = its "
                   "layer with most features, e.g. towns)")
    p.add_argument("--rules", metavar="TOML", help="conflict rules (default layers/conflicts.toml)")
    p.add_argument("--out", metavar="FILE.gpkg",
                   help="write the conflict polygons to this new GeoPackage (layer conflicts)")
    p.add_argument("--raw", action="store_true",
                   help="add the raw sums over feature pairs (what overlay tools report)")
    p.add_argument("--limit", type=int, default=20,
                   help="conflicts shown in the table and the JSON `conflicts` list (largest "
                   "first; default 20, 0 = all)")
    p.add_argument("--conflicts", action="store_true", dest="all_conflicts",
                   help="list every conflict record in the JSON (streamed; the polygons "
                   "themselves go to --out)")
    p.add_argument("--fail-on", choices=SEVERITY_CHOICES,
                   help="exit 1 when a conflict of this severity or worse is found")
    p.add_argument("--workers", type=int, help="threads (default: CPUs, or $ECOGIS_WORKERS)")
    add_engine_arguments(p)
    add_format_argument(p, choices=("table", "json", "csv", "xlsx"))
    p.add_argument("--output", "-o", metavar="FILE", help="write csv/xlsx to FILE (csv: one "
                   "file per table: FILE, then FILE-stem.rules.csv, .conflicts.csv ...)")
    p.set_defaults(func=run)


def run(args) -> int:
    unit = area_unit(args.unit).id
    rules = load_conflict_rules(args.rules)
    if args.out and Path(args.out).resolve() == Path(str(args.workspace).split(":")[0]).resolve():
        raise InputError("--out would overwrite the workspace", file=args.out,
                         fix="write conflicts to a new .gpkg file")
    with warnings.catch_warnings(record=True) as caught, engines.from_args(args):
        warnings.simplefilter("always")
        _, all_layers = load_target(args.workspace)
        if args.layers:
            known = {lyr.name: lyr for lyr in all_layers}
            missing = [n for n in args.layers if n not in known]
            if missing:
                raise InputError(f"has no layer {missing[0]!r} (layers: {', '.join(known)})",
                                 file=str(args.workspace), fix="use `ecogis layers` to list them")
            layers = [known[n] for n in args.layers]
        else:
            # admin units zone the analysis; 三调 地类图斑 are the base survey, not a control line
            layers = [lyr for lyr in all_layers if lyr.kind.id not in ("admin", "landuse")]
        an = OverlapAnalysis(layers, args.method, workers=args.workers)
        names = [lyr.name for lyr in an.layers]
        steps = 2 + bool(args.by) + bool(args.out)
        with bar(steps, desc="overlaps: dissolves and matrix", unit="step") as progress:
            matrix = an.matrix(unit, raw=args.raw)
            progress.update()
            progress.set_description("overlaps: conflicts")
            summary, polys = an.conflicts(rules, unit, geometry=bool(args.out))
            progress.update()
            progress.set_description("overlaps: per zone")
            by = _by_zone(args, an, all_layers, names, summary, polys, unit)
            progress.update(bool(args.by))
            progress.set_description("overlaps: writing")
            polys, zone_name, by_matrix, by_rules = by
            polys = polys.sort_values("area_m2", ascending=False, kind="stable")
            if args.out:
                write_gpkg(args.out, {"conflicts": polys})
    notes = [str(w.message) for w in caught]

    rank = {s.id: s.rank for s in rules.severities.values()}
    failed = bool(args.fail_on) and any(
        r.conflicts and rank.get(r.severity, 0) >= rank.get(args.fail_on, 0) for r in summary)
    cols = CONFLICT_COLUMNS + (["zone"] if "zone" in polys.columns else [])
    diag = [r for r in matrix if r.a == r.b]
    layer_rows = [{"name": r.a, "kind": r.a_kind, "kind_name": an.layer(r.a).kind.name_zh,
                   "features": len(an.layer(r.a).gdf), "area": r.area, "area_m2": r.area_m2,
                   "unit": unit} for r in diag]

    if args.format == "json":
        listed = polys if args.all_conflicts or args.limit == 0 else polys.head(args.limit)
        write_document({
            "workspace": str(args.workspace), "unit": unit, "method": args.method,
            "method_label": an.method_label, "plane": crs_label(an.target),
            "layers": layer_rows, "matrix": [plain(r) for r in matrix],
            "rules": [plain(r) for r in summary],
            "conflicts_total": len(polys), "conflicts_listed": len(listed),
            "conflicts": Stream(records(listed, cols)),
            "by": None if not args.by else {
                "layer": zone_name, "matrix": [plain(r) for r in by_matrix],
                "rules": [plain(r) for r in by_rules]},
            "out": args.out, "skipped": an.skipped, "warnings": notes,
        })
        return 1 if failed else 0
    conflict_rows = polys[cols].to_dict("records") if len(polys) else []

    if args.format in ("csv", "xlsx"):
        from ecogis.reports.output import write_book
        from ecogis.reports.tables import overlaps_book

        book = overlaps_book(layer_rows, matrix, summary, conflict_rows, unit=unit, names=names,
                             by_matrix=by_matrix, by_rules=by_rules, zone_name=zone_name,
                             method_label=an.method_label, plane=crs_label(an.target))
        for p in write_book(book, args.format, args.output):
            emit(f"wrote {p}")
        return 1 if failed else 0

    emit(f"Overlaps — {an.method_label}, unit {unit} (dissolved: a layer's own overlaps "
         "count once)")
    emit("")
    square = {(r.a, r.b): r.area for r in matrix}
    emit(format_table([{"layer": a, **{b: square[(a, b)] for b in names}} for a in names],
                      [("layer", "layer ∩")] + [(b, b) for b in names]))
    emit("")
    order = {n: i for i, n in enumerate(names)}
    pairs = [_pct(plain(r)) for r in matrix if order[r.a] < order[r.b] and r.area_m2 > SHOWN_M2]
    emit(format_table(pairs, [("a", "a"), ("b", "b"), ("area", f"overlap ({unit})")]
                      + ([("area_raw_sum", f"raw sum ({unit})")] if args.raw else [])
                      + [("share_a_pct", "share of a %"), ("share_b_pct", "share of b %")],
                      title="Overlapping pairs"))
    emit("")
    emit(format_table(
        [{**plain(r), "layers": _layers_cell(r, {lyr.kind.id for lyr in an.layers})}
         for r in summary],
        [("rule", "rule"), ("name_zh", "冲突"), ("severity_zh", "程度"), ("layers", "layers"),
         ("conflicts", "polygons"), ("area", f"area ({unit})"),
         ("area_raw_sum", f"raw sum ({unit})")], title="Conflict rules (layers/conflicts.toml)"))
    if len(polys):
        emit("")
        shown = polys if args.limit == 0 else polys.head(args.limit)
        rows = [{**r, "a": _feature(r["a_layer"], r["a_fid"], r["a_name"]),
                 "b": _feature(r["b_layer"], r["b_fid"], r["b_name"])}
                for r in shown[cols].to_dict("records")]
        emit(format_table(rows, [("rule", "rule"), ("a", "a (layer:fid name)"),
                                 ("b", "b (layer:fid name)"), ("area", f"area ({unit})"),
                                 ("lon", "lon"), ("lat", "lat")]
                          + ([("zone", "zone")] if "zone" in cols else []),
                          digits=6, title=f"Conflict polygons: {len(polys)}"
                          + (f" (largest {len(shown)} shown)" if len(shown) < len(polys)
                             else "")))
    if args.by:
        emit("")
        emit(format_table([_pct(plain(r)) for r in by_matrix
                           if r.area_m2 > SHOWN_M2 and r.a != r.b],
                          [("zone", zone_name), ("a", "a"), ("b", "b"),
                           ("area", f"overlap ({unit})"),
                           ("share_a_pct", "share of a in zone %")],
                          title=f"Overlaps per {zone_name}"))
        emit("")
        emit(format_table([plain(r) for r in by_rules if r.area_m2 > SHOWN_M2],
                          [("zone", zone_name), ("rule", "rule"), ("severity", "severity"),
                           ("area", f"area ({unit})")], title=f"Conflicts per {zone_name}"))
    if args.out:
        emit("")
        emit(f"conflict polygons written to {args.out} (layer conflicts, EPSG:4490)")
    for n in notes:
        emit(f"warning: {n}")
    return 1 if failed else 0


def _pct(row: dict) -> dict:
    """The row with its shares (fractions) also in percent: ``share_a_pct``, ``share_b_pct``."""
    for k in ("share_a", "share_b"):
        if row.get(k) is not None:
            row[f"{k}_pct"] = 100 * row[k]
    return row


def _by_zone(args, an, all_layers, names, summary, polys, unit):
    """``--by``: the matrix and conflict areas per zone, and each conflict's zone."""
    zone_name = None
    by_matrix, by_rules = [], []
    if args.by:
        zones, field = zone_layer(all_layers, args.by)
        zone_name = zones.name
        an.set_zones(zones, field)
        by_matrix = an.matrix_by_zone(unit, names=[n for n in names if n != zone_name])
        by_rules = an.conflicts_by_zone(summary, unit)
        if len(polys):
            polys["zone"] = an.zone_of(polys["lon"].to_numpy(), polys["lat"].to_numpy())
    return polys, zone_name, by_matrix, by_rules


def _feature(layer: str, fid, name) -> str:
    """``farmland:415 试点图斑`` (the name only when there is one)."""
    text = f"{layer}:{fid}"
    return text if name is None or pd.isna(name) or name == "" else f"{text} {name}"


def _layers_cell(r, kinds_present: set[str]) -> str:
    if r.applicable:
        return f"{r.a_layer} × {r.b_layer}"
    missing = [s.split("[")[0] for s in (r.a_side, r.b_side)
               if s.split("[")[0] not in kinds_present]
    return "no layer of kind " + ", ".join(dict.fromkeys(missing))
