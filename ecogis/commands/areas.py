"""``ecogis areas TARGET``: dissolved areas per layer (km², 公顷, 亩), optionally per town/field."""

from __future__ import annotations

import warnings

from ecogis.areas import areas_by_field, areas_by_zones, layer_area_rows, zone_layer
from ecogis.landuse import LANDUSE_KIND, class_areas, is_landuse_by
from ecogis.measure import METHODS
from ecogis.report import add_format_argument, emit, format_table, plain, to_json
from ecogis.units import AREA_UNITS, area_unit
from ecogis.workspace import load_target

_LANDUSE_COLS = [("layer", "layer"), ("dlbm", "DLBM"), ("dlmc", "DLMC"), ("parcels", "图斑数"),
                 ("gross", "图斑面积"), ("deducted_m2", "扣除 m²"), ("added_m2", "计入扣除 m²"),
                 ("area", "地类面积"), ("declared_tbdlmj_m2", "ΣTBDLMJ m²")]


def register(sub) -> None:
    p = sub.add_parser(
        "areas", help="areas of layers: dissolved, ellipsoidal by default",
        description="Area of each layer, dissolved so a layer's own overlaps count once; the "
        "raw sum of feature areas is shown beside it. TARGET is a workspace, WS.gpkg:LAYER, or "
        "a data file (read with the import rules).")
    p.add_argument("target", help="workspace .gpkg, WS.gpkg:LAYER, or a data file")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="only these layers (repeatable)")
    p.add_argument("--unit", default="km2", help=f"{', '.join(AREA_UNITS)} (or 亩, 公顷)")
    p.add_argument("--method", choices=METHODS, default="ellipsoidal")
    p.add_argument("--by", help="split by an admin layer/kind (e.g. admin) or a field (e.g. zone); "
                   "DLMC or DLBM on a landuse layer: the 三调 地类 table (图斑面积, 扣除田坎, "
                   "地类面积, 田坎 row with ΣKCMJ)")
    p.add_argument("--kind", help="kind of a plain data file (default generic)")
    p.add_argument("--crs", help="CRS of a plain data file without one")
    p.add_argument("--encoding", help="encoding of a plain data file")
    add_format_argument(p, choices=("table", "json", "csv", "xlsx"))
    p.add_argument("--output", "-o", metavar="FILE", help="write csv/xlsx to FILE (csv: one "
                   "file per table, FILE then FILE-stem.by_<by>.csv)")
    p.set_defaults(func=run)


def run(args) -> int:
    unit = area_unit(args.unit).id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws, layers = load_target(args.target, names=args.layers, kind=args.kind, crs=args.crs,
                                 encoding=args.encoding)
        all_layers = layers  # --by may name a layer not asked for: read only those, once
        if args.by and ws is not None:
            others = [n for n in ws.names() if n not in {lyr.name for lyr in layers}]
            if others:
                all_layers = layers + load_target(args.target, names=others)[1]
        rows = layer_area_rows(layers, unit=unit, method=args.method)
        by_rows = []
        lu_rows = []
        if args.by:
            try:
                zones, field = zone_layer(all_layers, args.by)
            except Exception:
                zones = None
            has_lu = any(lyr.kind.id == LANDUSE_KIND for lyr in layers)
            for lyr in layers:
                if has_lu and is_landuse_by(args.by) and lyr.kind.id != LANDUSE_KIND \
                        and args.by not in lyr.gdf.columns:
                    continue  # `--by DLMC` on a workspace: the landuse layers' 地类 table
                if lyr.kind.id == LANDUSE_KIND and is_landuse_by(args.by):
                    lu_rows += class_areas(lyr.gdf, layer=lyr.name, by=args.by, unit=unit,
                                           method=args.method)
                elif zones is not None:
                    if lyr.name == zones.name:
                        continue
                    by_rows += areas_by_zones(lyr, zones, field, unit=unit, method=args.method)
                else:
                    by_rows += areas_by_field(lyr, args.by, unit=unit, method=args.method)
    notes = [str(w.message) for w in caught]
    if args.format == "json":
        emit(to_json({
            "target": str(args.target), "unit": unit, "method": args.method,
            "method_label": rows[0].method_label if rows else args.method,
            "layers": [plain(r) for r in rows],
            "by": [plain(r) for r in by_rows] + [plain(r) for r in lu_rows],
            "warnings": notes,
        }))
        return 0
    cols = [("layer", "layer"), ("kind_name", "图层"), ("features", "features"),
            ("area", f"area ({unit})"), ("area_raw_sum", f"raw sum ({unit})"),
            ("self_overlap", f"self-overlap ({unit})"), ("crs", "CRS")]
    data = [plain(r) for r in rows]
    if args.format in ("csv", "xlsx"):
        from ecogis.reports.output import write_book
        from ecogis.reports.tables import areas_book

        book = areas_book(rows, by_rows, unit=unit, by=args.by,
                          method_label=rows[0].method_label if rows else args.method,
                          target=str(args.target), landuse_rows=lu_rows)
        for p in write_book(book, args.format, args.output):
            emit(f"wrote {p}")
        return 0
    title = f"Areas — {rows[0].method_label if rows else args.method}, unit {unit}"
    emit(format_table(data, cols, title=title))
    if by_rows:
        from ecogis.reports.model import UNIT_DIGITS
        from ecogis.reports.tables import zone_tables

        pivot = zone_tables([plain(r) for r in by_rows], data, unit=unit, by=args.by)[0]
        emit("")
        emit(format_table([{c.key: c.value(r) for c in pivot.columns} for r in pivot.rows],
                          [(c.key, c.label) for c in pivot.columns],
                          digits=UNIT_DIGITS.get(unit, 4), title=pivot.title))
    if lu_rows:
        emit("")
        emit(format_table([plain(r) for r in lu_rows], _LANDUSE_COLS,
                          title=f"地类面积 ({unit}) — 图斑面积 measured ({args.method}); "
                          "扣除 = 图斑面积 × KCXS; 地类面积 = 图斑面积 − 扣除 (+ ΣKCMJ on 田坎)"))
    for n in notes:
        emit(f"warning: {n}")
    return 0
