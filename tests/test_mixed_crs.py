"""Mixed CRSs give the same figures: layers stored in five CGCS2000 CRSs (issue 11 item 8).

The geometry is built once in the 3° Gauss-Krüger plane of CM 105°E (EPSG:4544) inside the real
安居区: Voronoi parcels (farmland), the same parcels plus a margin (cultivated, which covers the
farmland), and two towns drawn in lon/lat with km-long edges. Each layer is then stored in
another CRS as a careful GIS would store it (edges densified to 5 m in the plane, vertices moved
with plain pyproj): EPSG:4490, 4523 (zone 35, prefixed), 4544, 4507 (6° CM 105°E) and 4545 (the
neighbouring 3° zone, CM 108°E). Expected values come from plain shapely + pyproj in EPSG:4544.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import ref_area_m2
from overlay_workspace import GK, X0, Y0, to_crs, voronoi_parcels

from ecogis.areas import areas_by_zones, layer_area_rows
from ecogis.change import diff_layers
from ecogis.kinds import load_kinds
from ecogis.overlay import OverlapAnalysis
from ecogis.workspace import LoadedLayer, Workspace

STORES = ["EPSG:4490", "EPSG:4523", "EPSG:4544", "EPSG:4507", "EPSG:4545"]
REL = 1e-9
#: pyproj's geodesic area of one region moves by ~1e-4 m² with the vertices along its edges
FLOOR_M2 = 2e-3


def store(geoms, crs: str) -> np.ndarray:
    """GK geometry as stored in ``crs``: densified to 5 m in the plane, vertices moved."""
    geoms = np.asarray(geoms, dtype=object)
    if crs == GK:
        return geoms
    return to_crs(shapely.segmentize(geoms, 5.0), GK, crs)


def ref_ell(geom_gk) -> float:
    """Independent ellipsoidal area of GK geometry: 1 m edges, to lon/lat, pyproj Geod."""
    return ref_area_m2(to_crs([shapely.segmentize(geom_gk, 1.0)], GK, "EPSG:4490")[0])


@pytest.fixture(scope="module")
def base(anju):
    rng = np.random.default_rng(11)
    farm = voronoi_parcels(rng, n=400, keep=0.6, w=2500.0, h=1800.0)
    # cultivated: every farmland parcel plus the window margin (a superset of farmland)
    window = shapely.box(X0 - 200, Y0 - 200, X0 + 2700, Y0 + 2000)
    cult = np.concatenate([farm, [window.difference(shapely.union_all(farm))]])
    # two towns drawn in lon/lat with 4 vertices each (edges of several km)
    lon0, lat0 = to_crs([shapely.Point(X0 - 1000, Y0 - 1000)], GK, "EPSG:4490")[0].coords[0]
    lon1, lat1 = to_crs([shapely.Point(X0 + 4000, Y0 + 3000)], GK, "EPSG:4490")[0].coords[0]
    mid = lon0 + 0.37 * (lon1 - lon0)
    towns_ll = [shapely.box(lon0, lat0, mid, lat1), shapely.box(mid, lat0, lon1, lat1)]
    # the towns in the plane, their lon/lat-straight edges kept (densified to 0.00001°)
    towns_gk = to_crs(shapely.segmentize(np.array(towns_ll, dtype=object), 1e-5),
                      "EPSG:4490", GK)
    return {"farm": farm, "cult": cult, "towns_ll": towns_ll, "towns_gk": towns_gk}


def layers_in(base, farm_crs: str, cult_crs: str) -> list[LoadedLayer]:
    kinds = load_kinds()
    out = []
    for name, kind, geoms, crs in (("farmland", "farmland", base["farm"], farm_crs),
                                   ("cultivated", "cultivated", base["cult"], cult_crs)):
        gdf = gpd.GeoDataFrame({"name": [f"{name}{i}" for i in range(len(geoms))]},
                               geometry=list(store(geoms, crs)), crs=crs)
        out.append(LoadedLayer(name, kinds[kind], gdf, name))
    return out


def towns_layer(base) -> LoadedLayer:
    gdf = gpd.GeoDataFrame({"name": ["西镇", "东镇"]}, geometry=base["towns_ll"], crs=4490)
    return LoadedLayer("towns", load_kinds()["admin"], gdf, "towns")


@pytest.fixture(scope="module")
def expected(base):
    farm_u = shapely.union_all(base["farm"])
    cult_u = shapely.union_all(base["cult"])
    return {"farm": ref_ell(farm_u), "cult": ref_ell(cult_u),
            "both": ref_ell(shapely.intersection(farm_u, cult_u)),
            "farm_by_town": [ref_ell(shapely.intersection(farm_u, t)) for t in base["towns_gk"]]}


def test_the_reported_case_farmland_4544_cultivated_4523(base, expected):
    """The bug: farmland in EPSG:4544, cultivated in EPSG:4523 gave an overlap above farmland."""
    an = OverlapAnalysis(layers_in(base, "EPSG:4544", "EPSG:4523"))
    rows = {(r.a, r.b): r for r in an.matrix("m2")}
    fc = rows[("farmland", "cultivated")]
    assert fc.area_m2 <= rows[("farmland", "farmland")].area_m2
    assert fc.share_a <= 1.0 and fc.share_b <= 1.0
    assert fc.area_m2 == pytest.approx(expected["both"], rel=REL, abs=FLOOR_M2)
    assert fc.area_m2 == pytest.approx(expected["farm"], rel=REL, abs=FLOOR_M2)


@pytest.mark.parametrize("farm_crs", STORES)
@pytest.mark.parametrize("shift", [1, 2])
def test_overlaps_equal_in_every_storage_crs(base, expected, farm_crs, shift):
    cult_crs = STORES[(STORES.index(farm_crs) + shift) % len(STORES)]
    an = OverlapAnalysis(layers_in(base, farm_crs, cult_crs))
    rows = {(r.a, r.b): r for r in an.matrix("m2")}
    farm, cult = rows[("farmland", "farmland")].area_m2, rows[("cultivated", "cultivated")].area_m2
    both = rows[("farmland", "cultivated")].area_m2
    assert farm == pytest.approx(expected["farm"], rel=REL, abs=FLOOR_M2)
    assert cult == pytest.approx(expected["cult"], rel=REL, abs=FLOOR_M2)
    assert both == pytest.approx(expected["both"], rel=REL, abs=FLOOR_M2)
    assert both <= farm and both <= cult  # an overlap never exceeds either layer


@pytest.mark.parametrize("crs", STORES)
def test_layer_area_equal_in_every_storage_crs(base, expected, crs):
    lyr = layers_in(base, crs, crs)[0]
    row = layer_area_rows([lyr], unit="m2")[0]
    assert row.area_m2 == pytest.approx(expected["farm"], rel=REL, abs=FLOOR_M2)


@pytest.mark.parametrize("crs", STORES)
def test_per_town_parts_sum_to_the_layer_and_follow_lonlat_edges(base, expected, crs):
    """Towns drawn in lon/lat with km-long edges: each town's share is measured against the
    town's lon/lat-straight edges (not the chords a plain vertex transform would draw)."""
    lyr = layers_in(base, crs, crs)[0]
    rows = areas_by_zones(lyr, towns_layer(base), unit="m2")
    by = {r.zone: r.area_m2 for r in rows}
    assert "(outside)" not in by
    assert sum(by.values()) == pytest.approx(expected["farm"], rel=REL, abs=FLOOR_M2)
    for zone, exp in zip(["西镇", "东镇"], expected["farm_by_town"], strict=True):
        assert by[zone] == pytest.approx(exp, rel=REL, abs=FLOOR_M2), zone
    # and the naive chord (vertices moved without densifying) would be visibly off
    chord = to_crs([base["towns_ll"][0]], "EPSG:4490", GK)[0]
    naive = ref_ell(shapely.intersection(shapely.union_all(base["farm"]), chord))
    assert abs(naive - expected["farm_by_town"][0]) > 1.0


def test_overlaps_by_town_add_up_in_mixed_crss(base, expected):
    an = OverlapAnalysis(layers_in(base, "EPSG:4545", "EPSG:4523") + [towns_layer(base)])
    an.set_zones(towns_layer(base))
    rows = an.matrix_by_zone("m2", names=["farmland", "cultivated"])
    pair = {r.zone: r.area_m2 for r in rows if (r.a, r.b) == ("farmland", "cultivated")}
    own = {r.zone: r.area_m2 for r in rows if (r.a, r.b) == ("farmland", "farmland")}
    assert sum(pair.values()) == pytest.approx(expected["both"], rel=REL, abs=FLOOR_M2)
    for z in own:
        assert pair[z] <= own[z] * (1 + 1e-12)
    for zone, exp in zip(["西镇", "东镇"], expected["farm_by_town"], strict=True):
        assert own[zone] == pytest.approx(exp, rel=REL, abs=FLOOR_M2)


@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:4523", "EPSG:4545"])
def test_diff_of_the_same_layer_in_another_crs_is_no_change(base, crs):
    before = layers_in(base, "EPSG:4544", "EPSG:4544")[0].gdf
    after = layers_in(base, crs, crs)[0].gdf
    res = diff_layers(before, after, kind="farmland")
    assert res.lost_m2 == 0.0 and res.gained_m2 == 0.0 and res.verdict == "pass"
    assert res.after_m2 == pytest.approx(res.before_m2, rel=REL, abs=FLOOR_M2)


def test_cli_overlaps_mixed_crs_share_never_above_one(tmp_path, base, run_cli):
    ws = Workspace.open(tmp_path / "mixed.gpkg", create=True)
    with ws.transaction():
        for lyr in layers_in(base, "EPSG:4544", "EPSG:4523"):
            ws.write(lyr.name, lyr.gdf, lyr.kind.id)
    code, out, err = run_cli("overlaps", ws.path, "--unit", "m2", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    pairs = [r for r in doc["matrix"] if r["a"] != r["b"]]
    assert pairs and all(r["share_a"] <= 1.0 and r["share_b"] <= 1.0 for r in pairs)


QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def test_per_town_areas_match_qgis_overlap_analysis(tmp_path, base):
    """QGIS's Overlap analysis (native:calculatevectoroverlaps, ellipsoid CGCS2000): towns in
    EPSG:4490 with km-long edges as input, farmland in EPSG:4523 as overlay."""
    import os
    import shutil
    import subprocess

    import pyogrio

    exe = QGIS_PROCESS if os.path.exists(QGIS_PROCESS) else shutil.which("qgis_process")
    if not exe:
        if os.environ.get("ECOGIS_REQUIRE_QGIS") == "1":
            pytest.fail("qgis_process is required (ECOGIS_REQUIRE_QGIS=1)")
        pytest.skip("qgis_process not installed")
    farm = layers_in(base, "EPSG:4523", "EPSG:4523")[0]
    towns = towns_layer(base)
    farm.gdf.to_file(tmp_path / "farm.gpkg", layer="farm", driver="GPKG")
    towns.gdf.to_file(tmp_path / "towns.gpkg", layer="towns", driver="GPKG")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "XDG_RUNTIME_DIR": str(tmp_path / "xdg")}
    # the qgis_process wrapper passes --noversioncheck, which QGIS 3.22 refuses: call the binary
    r = subprocess.run([exe, "run", "native:calculatevectoroverlaps", "--ellipsoid=EPSG:1024",
                        "--", f"INPUT={tmp_path / 'towns.gpkg'}",
                        f"LAYERS={tmp_path / 'farm.gpkg'}", f"OUTPUT={tmp_path / 'q.gpkg'}"],
                       env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-500:]
    q = pyogrio.read_dataframe(tmp_path / "q.gpkg")
    qgis = dict(zip(q["name"], q["farm_area"], strict=True))
    ours = {row.zone: row.area_m2 for row in areas_by_zones(farm, towns, unit="m2")}
    for zone in ("西镇", "东镇"):
        # QGIS measures the pieces' edges as geodesics without densifying: ~5e-9 apart
        assert ours[zone] == pytest.approx(qgis[zone], rel=2e-8), zone
