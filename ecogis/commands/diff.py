"""``ecogis diff BEFORE AFTER``: 面积不减少、性质不改变 and 占补平衡 between two layer versions.

Exit code 1 when the verdict of the kind's rule (``layers/change_rules.toml``) is ``fail``, so
a pipeline can gate a plan change on it; 2 on bad input.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ecogis.change import (
    DiffResult,
    diff_layers,
    evaluate,
    load_change_rules,
    resolve_field,
    write_diff,
)
from ecogis.errors import EcogisWarning, InputError
from ecogis.io import parse_source
from ecogis.measure import METHODS
from ecogis.report import emit, format_table, to_json
from ecogis.units import AREA_UNITS, area_unit
from ecogis.workspace import LoadedLayer, Workspace, is_workspace, load_target


def register(sub) -> None:
    p = sub.add_parser(
        "diff", help="compare two versions of a layer: lost, gained, net, nature, 占补平衡",
        description="Compare two versions of a polygon layer (面积不减少，性质不改变; 占补平衡). "
        "BEFORE and AFTER are WS.gpkg:LAYER or data files, in any CRS each. Areas are "
        "dissolved and ellipsoidal by default; parts thinner than --tolerance-m are "
        "digitising noise, reported apart. The verdict follows layers/change_rules.toml for "
        "the layer's kind; exit code 1 when it is fail.")
    p.add_argument("before", help="BEFORE: WS.gpkg:LAYER, a workspace with one layer, or a file")
    p.add_argument("after", help="AFTER: WS.gpkg:LAYER, a workspace with one layer, or a file")
    p.add_argument("--kind", help="layer kind (default: BEFORE's kind in its workspace, "
                   "else generic = report only)")
    p.add_argument("--field", help="field whose change is a change of nature (zone, land_code, "
                   "level ...); default from the kind's rule")
    p.add_argument("--grade-field", help="numeric quality grade for 占补平衡 (grade/ZLDJ; lower "
                   "is better by default)")
    p.add_argument("--tolerance-m", type=float, default=0.5,
                   help="parts thinner than this many metres are noise (default 0.5)")
    p.add_argument("--tolerance-m2", type=float, default=0.0,
                   help="parts smaller than this many m² are noise (default 0: off)")
    p.add_argument("--by", help="split lost/gained by zones: a layer name or kind of BEFORE's "
                   "or AFTER's workspace (e.g. admin), or a file / WS.gpkg:LAYER with a name field")
    p.add_argument("--unit", default="km2", help=f"{', '.join(AREA_UNITS)} (or 亩, 公顷)")
    p.add_argument("--method", choices=METHODS, default="ellipsoidal")
    p.add_argument("--rules", help="change rules file (default layers/change_rules.toml)")
    p.add_argument("--crs-before", help="CRS of a BEFORE data file without one")
    p.add_argument("--crs-after", help="CRS of an AFTER data file without one")
    p.add_argument("--encoding", help="attribute encoding of data files")
    p.add_argument("--out", metavar="DIFF.gpkg",
                   help="write layers lost, gained, noise, nature_changed (atomically)")
    p.add_argument("--map", metavar="OUT.html",
                   help="write an offline change map: AFTER, lost in red, gained in green "
                   "(BEFORE as a hidden layer)")
    p.add_argument("--region", help="region whose plan the verdict cites (id or name, e.g. "
                   "anju / 安居区; default: the workspace's region); other regions' plans are "
                   "not cited")
    p.add_argument("--format", choices=["table", "json", "csv", "xlsx"], default="table",
                   help="output format (default table; csv/xlsx: the tables, --output FILE)")
    p.add_argument("--output", "-o", metavar="FILE", help="write csv/xlsx to FILE")
    p.set_defaults(func=run)


def _load_one(target: str, role: str, *, kind: str | None, pick_kind: str | None, crs,
              encoding) -> tuple[Workspace | None, LoadedLayer]:
    """Load one layer: ``kind`` reads a data file, ``pick_kind`` picks a workspace's layer."""
    from ecogis.storage import is_postgres_uri, split_layer

    path, layer = split_layer(target) if is_postgres_uri(target) else parse_source(target)
    names = None
    if layer is None and is_workspace(path):
        ws = Workspace.open(path)
        kind = pick_kind
        names = ws.names_of_kind(kind) if kind else ws.names()
        if len(names) != 1:
            raise InputError(
                f"{role} is a workspace with {len(names)} "
                f"{'layers of kind ' + repr(kind) if kind else 'layers'}: "
                f"{', '.join(ws.names()) or 'none'}", file=str(path),
                fix=f"name one as {Path(path).name}:LAYER")
    ws, layers = load_target(target, names=names, kind=kind, crs=crs, encoding=encoding)
    return ws, layers[0]


def _zones(by: str, workspaces: list[Workspace | None], encoding):
    for ws in workspaces:
        if ws is None:
            continue
        if by in ws.names():
            return by, ws.read(by)
        named = ws.names_of_kind(by)
        if named:
            best = max(named, key=lambda n: ws.info(n).features)
            return best, ws.read(best)
    path, _ = parse_source(by)
    if Path(path).exists():
        _, layers = load_target(by, encoding=encoding)
        return layers[0].name, layers[0].gdf
    raise InputError(f"--by {by!r} is neither a layer or kind of the workspace(s) nor a file",
                     fix="import towns as kind admin (ecogis import WS.gpkg admin towns.shp) "
                     "or pass a file of zones with a name field")


def run(args) -> int:
    unit = area_unit(args.unit).id
    rules = load_change_rules(args.rules) if args.rules else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws_b, before = _load_one(args.before, "BEFORE", kind=args.kind, pick_kind=args.kind,
                                 crs=args.crs_before, encoding=args.encoding)
        kind = args.kind or before.kind.id
        ws_a, after = _load_one(args.after, "AFTER", kind=kind, pick_kind=args.kind,
                                crs=args.crs_after, encoding=args.encoding)
        notes = []
        if args.kind is None and after.kind.id not in (kind, "generic") and kind != "generic":
            notes.append(f"AFTER is of kind {after.kind.id!r}, BEFORE of {kind!r}: "
                         f"compared as {kind!r} (pass --kind to choose)")
        zones = zones_name = None
        zone_field = "name"
        if args.by:
            zones_name, zones = _zones(args.by, [ws_b, ws_a], args.encoding)
            zone_field = resolve_field(zones, "name", layer=zones_name)
        result = diff_layers(
            before.gdf, after.gdf, kind=kind, field=args.field, grade_field=args.grade_field,
            tolerance_m=args.tolerance_m, tolerance_m2=args.tolerance_m2, method=args.method,
            zones=zones, zone_field=zone_field, zones_name=zones_name, rules=rules,
            before_name=before.source, after_name=after.source)
        result.checks = evaluate(result, unit=unit)  # messages in the unit asked for
        region = args.region or next((str(w.meta["region"]) for w in (ws_b, ws_a)
                                      if w is not None and w.meta.get("region")), None)
        _cite_region(result, region)
        if args.out:
            write_diff(result, args.out, unit=unit)
        map_path = write_change_map(result, before, after, args.map) if args.map else None
    result.notes[:0] = notes
    from ecogis.reports.names import part_labels

    lost_names = part_labels(result.lost, before.gdf)
    gained_names = part_labels(result.gained, after.gdf)
    # ecogis's own warnings (CRS guessed, geometry repaired) are part of the report; library
    # deprecation warnings are not
    warn = [str(w.message) for w in caught if issubclass(w.category, EcogisWarning)]
    if args.format in ("csv", "xlsx"):
        from ecogis.reports.output import write_book
        from ecogis.reports.tables import diff_book

        book = diff_book(result, unit=unit, lost_names=lost_names, gained_names=gained_names)
        for p in write_book(book, args.format, args.output):
            emit(f"wrote {p}")
        return 1 if result.verdict == "fail" else 0
    if args.format == "json":
        d = result.as_dict(unit)
        d["region"] = region
        d["lost_features"] = _parts(result.lost, lost_names, unit)
        d["gained_features"] = _parts(result.gained, gained_names, unit)
        d["warnings"] = warn
        if args.out:
            d["out"] = str(args.out)
        if map_path:
            d["map"] = str(map_path)
        emit(to_json(d))
    else:
        emit(render_table(result, unit))
        named = [(side, n) for side, names in (("lost", lost_names), ("gained", gained_names))
                 for n in names if n]
        if named:
            emit("features: " + "; ".join(f"{side} {n}" for side, n in named[:10])
                 + (f"; … {len(named) - 10} more" if len(named) > 10 else ""))
        if args.out:
            emit(f"layers lost, gained, noise, nature_changed written to {args.out}")
        if map_path:
            emit(f"change map written to {map_path}")
        for w in warn:
            emit(f"warning: {w}")
    return 1 if result.verdict == "fail" else 0


def _cite_region(result: DiffResult, region: str | None) -> None:
    """Keep only the citations of ``region``'s own plan and the national ones."""
    import dataclasses

    from ecogis.reports.citations import citations_for_region

    if region is None:
        return
    result.rule = dataclasses.replace(
        result.rule, citations=citations_for_region(result.rule.citations, region))
    result.checks = [dataclasses.replace(c, citations=citations_for_region(c.citations, region))
                     for c in result.checks]


def _parts(gdf, names: list[str], unit: str) -> list[dict]:
    """Lost or gained parts: area in ``unit`` and m², and the features they come from."""
    if not len(gdf):
        return []
    u = area_unit(unit)
    return [{"part": i + 1, "area": float(a) / u.m2, "area_m2": float(a),
             "features": names[i] if i < len(names) else ""}
            for i, a in enumerate(gdf["area_m2"].to_numpy())]


def write_change_map(result: DiffResult, before: LoadedLayer, after: LoadedLayer,
                     path: str) -> Path:
    """Write an offline HTML map of the change: AFTER, lost (red) and gained (green)."""
    from ecogis.maps import MapLayer, make_map, save_map

    layers = [
        MapLayer(f"before:{before.name}", result.kind, before.gdf,
                 label=f"变更前 {result.kind_name}", show=False, synthetic=before.synthetic),
        MapLayer(f"after:{after.name}", result.kind, after.gdf,
                 label=f"变更后 {result.kind_name}", synthetic=after.synthetic),
    ]
    d = result.as_dict("km2")
    title = (f"{result.kind_name} 变化：减少 {d['lost']:.4f} km²，增加 {d['gained']:.4f} km²，"
             f"{'通过' if result.verdict == 'pass' else '不通过'}")
    m = make_map(layers, title=title, diff={"lost": result.lost, "gained": result.gained},
                 source=f"{result.before_name} -> {result.after_name}")
    return save_map(m, path)


def render_table(result: DiffResult, unit: str) -> str:
    """Return the text report of a diff: areas, nature changes, 占补平衡, zones and verdict."""
    d = result.as_dict(unit)
    out = [f"Diff — {result.kind_name} ({result.kind}): {result.before_name} -> "
           f"{result.after_name}",
           f"{result.method_label}; computed in {d['crs']}; unit {unit}", ""]
    n = d["noise"]
    rows = [
        {"what": "before", "zh": "变更前", "area": d["before_area"], "parts": None},
        {"what": "after", "zh": "变更后", "area": d["after_area"], "parts": None},
        {"what": "lost", "zh": "减少", "area": d["lost"], "parts": d["lost_parts"]},
        {"what": "gained", "zh": "增加", "area": d["gained"], "parts": d["gained_parts"]},
        {"what": "net", "zh": "净变化", "area": d["net"], "parts": None},
        {"what": "noise", "zh": "数字化误差", "area": n["area"], "parts": n["count"]},
    ]
    out.append(format_table(rows, [("what", ""), ("zh", ""), ("area", f"area ({unit})"),
                                   ("parts", "parts")], digits=6))
    out.append(f"(noise: parts thinner than {result.tolerance_m:g} m"
               + (f" or smaller than {result.tolerance_m2:g} m²" if result.tolerance_m2 else "")
               + "; not counted in lost/gained/net)")
    if result.field is not None:
        out.append("")
        if d["nature_changes"]:
            out.append(format_table(
                [{"from": c["from"], "to": c["to"], "area": c["area"], "parts": c["parts"]}
                 for c in d["nature_changes"]],
                [("from", "from"), ("to", "to"), ("area", f"area ({unit})"), ("parts", "parts")],
                digits=6, title=f"性质变化 ({result.field}): from -> to"))
        else:
            out.append(f"性质变化 ({result.field}): none")
    c = d["compensation"]
    if c is not None:
        out.append("")
        rows = [{"what": "占用 (lost)", "area": c["lost"], "grade": c["lost_mean_grade"]},
                {"what": "补划 (gained)", "area": c["gained"], "grade": c["gained_mean_grade"]},
                {"what": "balance", "area": c["balance"], "grade": None}]
        cols = [("what", ""), ("area", f"area ({unit})")]
        if c["grade_field"]:
            cols.append(("grade", f"mean {c['grade_field']} ({c['grade_better']} is better)"))
        out.append(format_table(rows, cols, digits=6, title="占补平衡"))
    if d["by"]:
        out.append("")
        out.append(format_table(d["by"], [("zone", result.by_layer or "zone"),
                                          ("lost", f"lost ({unit})"),
                                          ("gained", f"gained ({unit})"),
                                          ("net", f"net ({unit})")], digits=6))
    out.append("")
    out.append(f"Verdict: {d['verdict'].upper()} (rule: {result.rule.name}, area "
               f"{result.rule.area}, nature {result.rule.nature}, grade {result.rule.grade})")
    for chk in result.checks:
        out.append(f"  [{'ok' if chk.ok else 'FAIL'}] {chk.check}: {chk.message}")
    if not result.checks:
        out.append("  (report only: no rule for this kind)")
    if result.reasons and result.rule.citations:
        out.append("  依据: " + " | ".join(result.rule.citations))
    for note in result.notes:
        out.append(f"note: {note}")
    return "\n".join(out)
