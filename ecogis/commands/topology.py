"""``ecogis topology WORKSPACE``: self-overlaps, gaps in coverages and slivers, per layer."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from ecogis.errors import InputError
from ecogis.measure import METHODS
from ecogis.overlay import MIN_LISTED_M2, is_polygonal, write_gpkg
from ecogis.report import (
    add_format_argument,
    emit,
    format_csv,
    format_table,
    nonnegative_float,
    to_json,
)
from ecogis.topology import (
    DEFAULT_GAP_M2,
    DEFAULT_GAP_WIDTH_M,
    DEFAULT_SLIVER_M2,
    DEFAULT_SLIVER_WIDTH_M,
    issues_frame,
    topology_check,
)
from ecogis.units import AREA_UNITS, area_unit
from ecogis.workspace import load_target

COLUMNS = [("layer", "layer"), ("type", "issue"), ("fid_a", "fid"), ("name_a", "name"),
           ("fid_b", "other fid"), ("name_b", "other name"), ("area", "area"),
           ("lon", "lon"), ("lat", "lat"), ("detail", "detail")]


def register(sub) -> None:
    p = sub.add_parser(
        "topology", help="topology checks: self-overlaps, gaps in coverages, slivers",
        description="Check polygon layers for features that overlap each other, gaps inside "
        "coverage layers (holes of the union of parcels that are no holes of the territory, "
        "and narrow cracks), and slivers. Each issue has its area and a lon/lat point. "
        "Exit 0 when clean, 1 when issues are found.")
    p.add_argument("workspace", help="workspace .gpkg (or WS.gpkg:LAYER, or a data file)")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="only these layers (repeatable; default every polygon layer)")
    p.add_argument("--sliver-m2", type=nonnegative_float, default=DEFAULT_SLIVER_M2, metavar="T",
                   help=f"parts below T m² are slivers (default {DEFAULT_SLIVER_M2:g})")
    p.add_argument("--sliver-width-m", type=nonnegative_float, default=DEFAULT_SLIVER_WIDTH_M, metavar="W",
                   help="parts thinner than W m (mean width 2·area/perimeter) are slivers "
                   f"(default {DEFAULT_SLIVER_WIDTH_M:g})")
    p.add_argument("--gap-m2", type=nonnegative_float, default=DEFAULT_GAP_M2, metavar="G",
                   help="holes of a coverage up to G m² are gaps (default "
                   f"{DEFAULT_GAP_M2:g})")
    p.add_argument("--gap-width-m", type=nonnegative_float, default=DEFAULT_GAP_WIDTH_M, metavar="W",
                   help="cracks between parcels narrower than W m are gaps (default "
                   f"{DEFAULT_GAP_WIDTH_M:g}; 0 = off)")
    p.add_argument("--overlap-m2", type=nonnegative_float, default=MIN_LISTED_M2, metavar="A",
                   help="self-overlaps below A m² are not reported (default "
                   f"{MIN_LISTED_M2:g}, the precision 三调 keeps areas to)")
    p.add_argument("--territory", metavar="LAYER",
                   help="the territory (e.g. the county boundary): holes of a coverage that "
                   "lie outside it are not gaps. Default: the admin layer with the fewest "
                   "features, when there is one; 'none' for no territory")
    p.add_argument("--unit", default="m2", help=f"{', '.join(AREA_UNITS)} (or 亩, 公顷)")
    p.add_argument("--method", choices=METHODS, default="ellipsoidal")
    p.add_argument("--out", metavar="FILE.gpkg", help="write the issues to a new GeoPackage")
    p.add_argument("--workers", type=int, help="threads (default: CPUs, or $ECOGIS_WORKERS)")
    add_format_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    unit = area_unit(args.unit).id
    for opt in ("sliver_m2", "sliver_width_m", "gap_m2", "gap_width_m", "overlap_m2"):
        if getattr(args, opt) < 0:
            raise InputError(f"--{opt.replace('_', '-')} must not be negative",
                             fix="give a value of 0 or more")
    if args.out and Path(args.out).resolve() == Path(str(args.workspace).split(":")[0]).resolve():
        raise InputError("--out would overwrite the workspace", file=args.out,
                         fix="write the issues to a new .gpkg file")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws, layers = load_target(args.workspace, names=args.layers)
        territory, territory_name = None, None
        if args.territory and args.territory.lower() != "none":
            _, t = load_target(args.workspace, names=[args.territory])
            territory, territory_name = t[0].gdf, t[0].name
        elif args.territory is None and ws is not None:
            admins = sorted((ws.info(n).features, n) for n in ws.names_of_kind("admin"))
            if admins:
                territory_name = admins[0][1]
                territory = ws.read(territory_name)
        issues = []
        checked = []
        for lyr in layers:
            if not is_polygonal(lyr.gdf):
                continue
            checked.append({"layer": lyr.name, "kind": lyr.kind.id,
                            "coverage": lyr.kind.coverage, "features": len(lyr.gdf)})
            issues += topology_check(
                lyr, sliver_m2=args.sliver_m2, sliver_width_m=args.sliver_width_m,
                gap_m2=args.gap_m2, gap_width_m=args.gap_width_m,
                territory=territory if lyr.name != territory_name else None,
                method=args.method,
                unit=unit, workers=args.workers, min_overlap_m2=args.overlap_m2)
        if args.out:
            write_gpkg(args.out, {"topology_issues": issues_frame(issues)})
    notes = [str(w.message) for w in caught]
    for c in checked:
        mine = [i for i in issues if i.layer == c["layer"]]
        for t in ("self_overlap", "gap", "sliver"):
            c[t] = sum(1 for i in mine if i.type == t)
    code = 1 if issues else 0
    rows = [i.as_dict() for i in issues]
    if args.format == "json":
        emit(to_json({"workspace": str(args.workspace), "unit": unit, "method": args.method,
                      "thresholds": {"overlap_m2": args.overlap_m2, "sliver_m2": args.sliver_m2,
                                     "sliver_width_m": args.sliver_width_m,
                                     "gap_m2": args.gap_m2, "gap_width_m": args.gap_width_m},
                      "territory": territory_name,
                      "layers": checked, "issues": rows, "out": args.out,
                      "warnings": notes}))
        return code
    if args.format == "csv":
        emit(format_csv(rows, [(k, k) for k, _ in COLUMNS] + [("unit", "unit"),
                                                             ("method", "method")]))
        return code
    emit(format_table(checked, [("layer", "layer"), ("kind", "kind"), ("features", "features"),
                                ("self_overlap", "self-overlaps"), ("gap", "gaps"),
                                ("sliver", "slivers")],
                      title=f"Topology — areas {args.method}, unit {unit}"
                      + (f", territory {territory_name}" if territory_name else "")))
    if rows:
        emit("")
        df = pd.DataFrame(rows).sort_values(["layer", "type", "area_m2"],
                                            ascending=[True, True, False])
        emit(format_table(df.to_dict("records"), [(k, h if k != "area" else f"area ({unit})")
                                                  for k, h in COLUMNS], digits=6))
    if args.out:
        emit("")
        emit(f"issues written to {args.out} (layer topology_issues, EPSG:4490)")
    for n in notes:
        emit(f"warning: {n}")
    return code
