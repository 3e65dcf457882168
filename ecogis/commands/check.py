"""``ecogis check WORKSPACE SITES``: may this project be built here? Verdicts with citations."""

from __future__ import annotations

import warnings
from pathlib import Path

from ecogis.engine import add_engine_arguments
from ecogis.errors import InputError
from ecogis.report import emit, format_table, nonnegative_float, positive_int
from ecogis.rules import VERDICT_ZH, VERDICTS, load_rulebook
from ecogis.siting import (
    METHODS,
    engine_for,
    read_sites,
    sites_from_lonlat,
    sites_from_wkt,
)
from ecogis.units import AREA_UNITS, area_unit

#: the siting-engine factory ``(workspace, rulebook) -> SitingEngine``; None means
#: :func:`ecogis.siting.engine_for`. ``ecogis serve`` sets its own (cached per workspace
#: version, which its audit writes do not change).
ENGINE_FOR = None


def register(sub) -> None:
    p = sub.add_parser(
        "check", help="project siting check: verdicts with citations (合规性审查)",
        description="Check project sites against the control lines of a workspace with the "
        "rulebook (layers/rules/*.toml): the national baseline plus the seed rules of --region. "
        "SITES is a file (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, CSV with wkt or lon/lat, "
        "or a 国土 TXT 界址点 file; many sites = batch), or use --wkt / --lonlat. Each site's "
        "verdict is its most severe hit: forbidden > conditional > warn > allowed.")
    p.add_argument("workspace", nargs="?", help="ecogis workspace (.gpkg)")
    p.add_argument("sites", nargs="?", help="site file (batch), or use --wkt / --lonlat")
    p.add_argument("--wkt", action="append", metavar="WKT",
                   help="a site as WKT in lon/lat (repeatable)")
    p.add_argument("--lonlat", action="append", metavar="LON,LAT",
                   help="a point site in degrees, longitude first (repeatable)")
    p.add_argument("--crs", help="CRS of SITES/--wkt when the coordinates carry none")
    p.add_argument("--encoding", help="text encoding of SITES (default: detected)")
    p.add_argument("--towgs84", metavar="DX,DY,DZ,RX,RY,RZ,DS",
                   help="7 parameters to bring Xian 1980 / Beijing 1954 SITES to CGCS2000")
    p.add_argument("--id", dest="site_id", help="id of a --wkt/--lonlat site")
    p.add_argument("--category", help="project category for sites without one "
                   "(id or Chinese alias; `ecogis check --list-categories`)")
    p.add_argument("--width", type=nonnegative_float, metavar="M",
                   help="corridor width of line sites, metres")
    p.add_argument("--radius", type=nonnegative_float, metavar="M", help="radius of point sites, metres")
    p.add_argument("--region", help="regional rulebook on top of the national baseline "
                   "(default: the workspace's region)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="override a rule parameter, e.g. anju_setback_outer_m=12 (repeatable)")
    p.add_argument("--method", choices=METHODS, default="ellipsoidal",
                   help="area method (default ellipsoidal)")
    p.add_argument("--format", choices=["table", "json", "md", "html", "jsonl", "docx", "pdf",
                                        "xlsx", "csv"],
                   default="table", help="output format (html/docx/pdf: the 用地预审 / 合规性审查 "
                   "report, A4; xlsx/csv: its tables; docx, pdf and xlsx need --output; "
                   "jsonl: one site per line, streamed)")
    p.add_argument("--geometry", action="store_true",
                   help="echo each site's geometry (lon/lat GeoJSON) in json/jsonl; always "
                   "done for --wkt/--lonlat sites, which have no file to refer back to")
    add_engine_arguments(p)
    p.add_argument("--chunk", type=positive_int, default=5_000, metavar="N",
                   help="json/jsonl: check and write the sites N at a time (bounded memory; "
                   "default 5000)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the output to FILE")
    p.add_argument("--unit", help="area unit of the table and reports (default m²; reports and "
                   "tables show 公顷 and 亩 beside it): " + ", ".join(AREA_UNITS))
    p.add_argument("--map", metavar="OUT.html", help="also write a self-contained HTML map")
    p.add_argument("--fail-on", choices=["forbidden", "conditional", "warn"],
                   help="exit 1 when any site reaches this severity")
    p.add_argument("--list-categories", action="store_true",
                   help="list the project categories and exit")
    p.set_defaults(func=run)


def _params(items: list[str]) -> dict[str, float]:
    out = {}
    for it in items:
        name, sep, value = it.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--param {it!r} is not NAME=NUMBER",
                             fix="write e.g. --param anju_setback_outer_m=12") from None
    return out


def _load_sites(args):
    given = [x for x in (args.sites, args.wkt, args.lonlat) if x]
    if len(given) != 1:
        raise InputError("give the sites as exactly one of: a SITES file, --wkt, --lonlat",
                         fix="e.g. ecogis check ws.gpkg --lonlat 105.45,30.35 --category urban")
    if args.sites:
        return read_sites(args.sites, crs=args.crs, encoding=args.encoding,
                          towgs84=getattr(args, "towgs84", None)), args.sites
    gdf = sites_from_wkt(args.wkt, crs=args.crs) if args.wkt else sites_from_lonlat(args.lonlat)
    if args.site_id:
        gdf["id"] = [args.site_id] if len(gdf) == 1 else [f"{args.site_id}-{i}"
                                                         for i in range(1, len(gdf) + 1)]
    return gdf, None


def run(args) -> int:
    from ecogis.rules import load_categories

    if args.list_categories:
        cats = load_categories()
        emit(format_table([{"id": c.id, "name": c.name_zh, "parents": ", ".join(c.parents),
                            "aliases": ", ".join(c.aliases[:6])} for c in cats],
                          [("id", "id"), ("name", "名称"), ("parents", "parents"),
                           ("aliases", "aliases")]))
        return 0
    if not args.workspace:
        raise InputError("no workspace given", fix="ecogis check WORKSPACE.gpkg SITES ...")
    from ecogis.storage import is_postgres_uri

    if not is_postgres_uri(args.workspace) and not Path(args.workspace).exists():
        raise InputError("workspace not found", file=args.workspace,
                         fix="check the path, or create it with `ecogis import`")
    params = _params(args.param)
    unit = area_unit(args.unit).id if args.unit else None
    if args.format in ("docx", "pdf", "xlsx") and not args.output:
        raise InputError(f"--format {args.format} writes a file",
                         fix=f"add --output FILE.{args.format}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sites_gdf, sites_file = _load_sites(args)
        region = args.region
        from ecogis.workspace import Workspace

        ws = Workspace.open(args.workspace)
        region_note = None
        if region is None and ws.meta.get("region"):
            try:
                rulebook = load_rulebook(str(ws.meta["region"]), params=params)
            except InputError:
                rulebook = load_rulebook(None, params=params)
                region_note = (f"the workspace's region {ws.meta['region']!r} has no regional "
                               "rulebook: national baseline only")
        else:
            rulebook = load_rulebook(region, params=params)
        engine = (ENGINE_FOR or engine_for)(ws, rulebook)
        layers = engine.layers
        if args.format in ("json", "jsonl") and not args.map:
            from ecogis import engine as engines

            with engines.from_args(args):
                return _stream(args, engine, sites_gdf, sites_file, caught, region_note)
        if getattr(args, "engine", "local") != "local" or getattr(args, "scheduler", None):
            raise InputError("--engine dask (and --scheduler) run --format json and jsonl",
                             fix="add --format json (or jsonl), or drop --engine")
        result = engine.check(sites_gdf, category=args.category, width_m=args.width,
                              radius_m=args.radius, method=args.method, file=sites_file)
    notes = [str(w.message) for w in caught]
    if region_note:
        notes.insert(0, region_note)
    result.notes = notes
    result.workspace = str(args.workspace)
    result.synthetic = bool(ws.meta.get("synthetic")) or any(
        i.synthetic for i in ws.layers() if i.name in layers)
    result.sites_file = str(sites_file) if sites_file else None
    if args.format in ("docx", "pdf", "xlsx", "csv", "html"):
        from ecogis.reports.output import write_check

        write_check(result, args.format, args.output, unit=unit)
    else:
        text = _render(result, args.format, geometry=bool(args.geometry) or sites_file is None,
                       unit=unit or "m2")
        if args.output:
            Path(args.output).write_text(text + "\n", encoding="utf-8")
        else:
            emit(text)
    if args.map:
        from ecogis.siting_report import write_map

        write_map(result, args.map)
    if result.errors:  # bad sites were refused one by one; the rest was checked above
        import sys

        for e in result.errors:
            print(f"ecogis: error: {e['error']}", file=sys.stderr)
        return 2
    if args.fail_on and result.reaches(args.fail_on):
        return 1
    return 0


def _stream(args, engine, sites_gdf, sites_file, caught, region_note) -> int:
    """json/jsonl: check the sites a chunk at a time and write each chunk's sites at once."""
    import contextlib
    import sys

    from ecogis.crs import crs_label
    from ecogis.jsonstream import Stream, write_document, write_lines
    from ecogis.rules import SEVERITY

    geometry = bool(args.geometry) or sites_file is None
    from ecogis import engine as engines

    chunks = engines.check_chunks(engine, sites_gdf, chunk=args.chunk, category=args.category,
                                  width_m=args.width, radius_m=args.radius, method=args.method,
                                  file=sites_file)
    first = next(chunks)
    counts = dict.fromkeys(VERDICTS, 0)
    totals = {"farmland_m2": 0.0, "compensation_m2": 0.0}
    not_evaluated: dict[str, dict] = {}
    errors: list[dict] = []  # sites refused as bad input (reported, exit 2 at the end)

    def sites():
        import itertools

        from ecogis.progress import bar

        with bar(len(sites_gdf), desc="checking sites", unit="site") as progress:
            for res in itertools.chain([first], chunks):
                progress.update(len(res.sites))
                yield from _tally(res)

    def _tally(res):
        for k, v in res.counts().items():
            counts[k] += v
        totals["farmland_m2"] += float(sum(x.farmland_m2 for x in res.sites))
        totals["compensation_m2"] += float(sum(x.compensation_m2 for x in res.sites))
        for n in res.not_evaluated:
            not_evaluated.setdefault(n["rule"], n)
        errors.extend(res.errors)
        return res.site_dicts(geometry=geometry)

    with contextlib.ExitStack() as stack:
        out = (stack.enter_context(open(args.output, "w", encoding="utf-8")) if args.output
               else sys.stdout)
        if args.format == "jsonl":
            write_lines(sites(), out)
        else:
            def tail():
                notes = ([region_note] if region_note else []) + [str(w.message) for w in caught]
                worst = [v for v in VERDICTS if counts[v]]
                return {"verdict": worst[0] if worst else "allowed", "counts": counts,
                        "not_evaluated": list(not_evaluated.values()), **totals,
                        "warnings": notes, "errors": errors}

            write_document(_Doc({
                "workspace": str(args.workspace), "sites_file": sites_file,
                "unit": "m2", "method": args.method, "distance_unit": "m",
                "distance_crs": crs_label(first.crs), "crs": "EPSG:4490",
                "rulebook": first.rulebook, "layers": first.layers,
                "sites": Stream(sites())}, tail), out)
    if errors:  # bad sites were refused one by one; the rest was checked above
        for e in errors:
            print(f"ecogis: error: {e['error']}", file=sys.stderr)
        return 2
    if args.fail_on and any(counts[v] for v in VERDICTS
                            if SEVERITY[v] >= SEVERITY[args.fail_on]):
        return 1
    return 0


class _Doc(dict):
    """A document whose last keys are computed after the streamed ones were written."""

    def __init__(self, head: dict, tail) -> None:
        super().__init__(head)
        self._tail = tail

    def items(self):
        yield from super().items()
        yield from self._tail().items()


def _names_text(h, limit: int = 3) -> str:
    """``甲、乙、丙 等 7 个`` from a hit's feature names (its first id when none has a name)."""
    n = len(h.features)
    if h.names:
        text = "、".join(h.names[:limit])
    elif h.feature is not None:
        text = str(h.feature)
    else:
        return "—"
    return text + (f" 等 {n} 个" if n > max(len(h.names[:limit]), 1) else "")


_DIGITS = {"m2": 1, "ha": 4, "km2": 6, "mu": 2, "wanmu": 6}


def _render(result, fmt: str, *, geometry: bool = True, unit: str = "m2") -> str:
    from ecogis.crs import crs_label

    if fmt in ("json", "jsonl"):
        from ecogis.jsonstream import dumps

        if fmt == "jsonl":
            return "\n".join(dumps(d) for d in result.site_dicts(geometry=geometry))
        return dumps(result.as_dict(geometry=geometry))
    if fmt == "md":
        from ecogis.siting_report import render_markdown

        return render_markdown(result)
    u = area_unit(unit)
    rows = [{"id": s.id, "category": s.category_zh, "verdict": f"{s.verdict} "
             f"{VERDICT_ZH[s.verdict]}", "hits": len(s.hits), "area": s.area_m2 / u.m2,
             "farmland": s.farmland_m2 / u.m2, "comp": s.compensation_m2 / u.m2}
            for s in result.sites]
    counts = result.counts()
    title = (f"合规性审查 — {len(result.sites)} site(s): "
             + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
             + f"; rulebook {' + '.join(result.rulebook['files'])}; areas {u.name_zh} "
             f"({result.method}), distances m ({crs_label(result.crs)})")
    out = [format_table(rows, [("id", "site"), ("category", "category"),
                               ("verdict", "verdict"), ("hits", "hits"),
                               ("area", f"area {u.id}"),
                               ("farmland", f"永久基本农田 {u.id}"),
                               ("comp", f"补划 {u.id}")], digits=_DIGITS.get(u.id, 4),
                       title=title)]
    hit_rows = [{"site": s.id, "layer": h.layer, "names": _names_text(h), "zone": h.zone,
                 "rule": h.rule + (f" (over {', '.join(h.overrides)})" if h.overrides else ""),
                 "verdict": h.verdict,
                 "overlap": f"{h.overlap_m2 / u.m2:,.{_DIGITS.get(u.id, 4)}f}",
                 "distance": h.distance_m, "cite": h.citation.get("text", "")}
                for s in result.sites for h in s.hits]
    if hit_rows:
        out.append("")
        out.append(format_table(hit_rows, [("site", "site"), ("layer", "layer"),
                                           ("names", "features"),
                                           ("zone", "zone"), ("rule", "rule"),
                                           ("verdict", "verdict"),
                                           ("overlap", f"overlap {u.id}"),
                                           ("distance", "distance m"), ("cite", "citation")],
                                digits=1))
    lu_rows = [{"site": s.id, **r} for s in result.sites for r in s.extra.get("landuse") or ()]
    if lu_rows:
        layer = next(s.extra["landuse_layer"] for s in result.sites if "landuse_layer" in s.extra)
        out.append("")
        out.append(format_table(lu_rows, [
            ("site", "site"), ("dlbm", "DLBM"), ("dlmc", "DLMC"), ("area_m2", "压占 m²"),
            ("net_m2", "扣除田坎后 m²"), ("tiankan_m2", "田坎 m²"), ("area_ha", "公顷"),
            ("area_mu", "亩")], digits=2, title=f"压占 by 地类 ({layer})"))
    if result.not_evaluated:
        kinds = sorted({n["kind"] for n in result.not_evaluated})
        out.append("")
        out.append(f"not evaluated (no layer of kind {', '.join(kinds)} in the workspace): "
                   f"{len(result.not_evaluated)} rule(s)")
    for n in result.notes:
        out.append(f"note: {n}")
    for e in result.errors:
        out.append(f"not checked: site {e['id']}: {e['error']}")
    return "\n".join(out)
