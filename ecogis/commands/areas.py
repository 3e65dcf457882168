"""``ecogis areas TARGET``: dissolved areas per layer (km², 公顷, 亩), optionally per town/field."""

from __future__ import annotations

import warnings

from ecogis.areas import areas_by_field, areas_by_zones, layer_area_rows, zone_layer
from ecogis.measure import METHODS
from ecogis.report import add_format_argument, emit, format_csv, format_table, plain, to_json
from ecogis.units import AREA_UNITS, area_unit
from ecogis.workspace import load_target


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
    p.add_argument("--by", help="split by an admin layer/kind (e.g. admin) or a field (e.g. zone)")
    p.add_argument("--kind", help="kind of a plain data file (default generic)")
    p.add_argument("--crs", help="CRS of a plain data file without one")
    p.add_argument("--encoding", help="encoding of a plain data file")
    add_format_argument(p)
    p.set_defaults(func=run)


def areas_report(target, *, names: list[str] | None = None, by: str | None = None,
                 unit: str = "km2", method: str = "ellipsoidal", kind: str | None = None,
                 crs=None, encoding: str | None = None, label: str | None = None):
    """Measure like ``ecogis areas``: return ``(json dict, area rows, by rows, warnings)``.

    The dict is the ``--format json`` output; ``label`` names the target in it (default:
    ``target`` as given).
    """
    unit = area_unit(unit).id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws, layers = load_target(target, names=names, kind=kind, crs=crs, encoding=encoding)
        all_layers = layers if ws is None else load_target(target)[1]
        rows = layer_area_rows(layers, unit=unit, method=method)
        by_rows = []
        if by:
            try:
                zones, field = zone_layer(all_layers, by)
            except Exception:
                zones = None
            for lyr in layers:
                if zones is not None:
                    if lyr.name == zones.name:
                        continue
                    by_rows += areas_by_zones(lyr, zones, field, unit=unit, method=method)
                else:
                    by_rows += areas_by_field(lyr, by, unit=unit, method=method)
    notes = [str(w.message) for w in caught]
    d = {"target": str(label or target), "unit": unit, "method": method,
         "method_label": rows[0].method_label if rows else method,
         "layers": [plain(r) for r in rows], "by": [plain(r) for r in by_rows],
         "warnings": notes}
    return d, rows, by_rows, notes


def run(args) -> int:
    d, rows, by_rows, notes = areas_report(args.target, names=args.layers, by=args.by,
                                           unit=args.unit, method=args.method, kind=args.kind,
                                           crs=args.crs, encoding=args.encoding)
    unit = d["unit"]
    if args.format == "json":
        emit(to_json(d))
        return 0
    cols = [("layer", "layer"), ("kind_name", "图层"), ("features", "features"),
            ("area", f"area ({unit})"), ("area_raw_sum", f"raw sum ({unit})"),
            ("self_overlap", f"self-overlap ({unit})"), ("crs", "CRS")]
    data = [plain(r) for r in rows]
    if args.format == "csv":
        emit(format_csv(data, cols + [("method", "method"), ("unit", "unit")]))
        if by_rows:
            emit(format_csv([plain(r) for r in by_rows],
                            [("layer", "layer"), ("by", "by"), ("zone", "zone"), ("area", "area"),
                             ("unit", "unit"), ("method", "method")]))
        return 0
    title = f"Areas — {rows[0].method_label if rows else args.method}, unit {unit}"
    emit(format_table(data, cols, title=title))
    if by_rows:
        emit("")
        emit(format_table([plain(r) for r in by_rows],
                          [("layer", "layer"), ("zone", args.by), ("area", f"area ({unit})"),
                           ("share_of_layer", "share of layer")]))
    for n in notes:
        emit(f"warning: {n}")
    return 0
