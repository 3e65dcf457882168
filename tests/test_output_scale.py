"""Output that scales: JSON summaries by default, full listings streamed on request."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import shapely
from overlay_workspace import build_workspace
from pytest import approx

from ecogis.jsonstream import Stream, dumps, records, write_document, write_lines
from ecogis.overlay import OverlapAnalysis
from ecogis.workspace import load_target


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory, anju):
    path = tmp_path_factory.mktemp("scale") / "anju_overlay.gpkg"
    build_workspace(path, anju)
    return path


class _Writes(io.StringIO):
    """A text sink that remembers its largest single write."""

    largest = 0

    def write(self, s: str) -> int:
        self.largest = max(self.largest, len(s))
        return super().write(s)


def test_document_streams_items_and_is_valid_json():
    rows = ({"i": i, "x": float(i) / 3, "name": f"图斑{i}", "v": np.int64(i)} for i in range(5000))
    sink = _Writes()
    write_document({"total": 5000, "nan": float("nan"), "arr": np.arange(3),
                    "rows": Stream(rows), "after": "end"}, sink)
    doc = json.loads(sink.getvalue())
    assert doc["total"] == 5000 and doc["nan"] is None and doc["arr"] == [0, 1, 2]
    assert len(doc["rows"]) == 5000 and doc["rows"][4999] == {
        "i": 4999, "x": 4999 / 3, "name": "图斑4999", "v": 4999}
    assert doc["after"] == "end"
    # no write holds more than one record: the listing is never one big string
    assert sink.largest < 100
    assert "图斑" in sink.getvalue()  # CJK kept, not \\u-escaped


def test_records_and_lines_make_nan_null():
    frame = pd.DataFrame({"a": [1.5, math.nan, 3.0], "b": ["x", None, "z"],
                          "c": np.array([1, 2, 3], dtype=np.int64)})
    got = list(records(frame, ["a", "b", "c"], chunk=2))
    assert got == [{"a": 1.5, "b": "x", "c": 1}, {"a": None, "b": None, "c": 2},
                   {"a": 3.0, "b": "z", "c": 3}]
    sink = io.StringIO()
    assert write_lines(got, sink) == 3
    assert [json.loads(line) for line in sink.getvalue().splitlines()] == got
    assert json.loads(dumps({"a": [float("inf"), np.float64("nan"), 1.0]})) == {
        "a": [None, None, 1.0]}


def test_overlaps_json_summary_by_default(run_cli, ws_path):
    code, out, err = run_cli("overlaps", ws_path, "--format", "json", "--unit", "m2")
    assert code == 0, err
    doc = json.loads(out)
    code, out_all, _ = run_cli("overlaps", ws_path, "--format", "json", "--unit", "m2",
                               "--conflicts")
    full = json.loads(out_all)
    total = sum(r["conflicts"] for r in doc["rules"] if r["applicable"])
    assert total > 20  # the workspace has enough conflicts for the summary to matter
    assert doc["conflicts_total"] == full["conflicts_total"] == total
    assert doc["conflicts_listed"] == len(doc["conflicts"]) == 20
    assert full["conflicts_listed"] == len(full["conflicts"]) == total
    # the default list is the 20 largest of the full list
    assert doc["conflicts"] == full["conflicts"][:20]
    areas = [c["area_m2"] for c in full["conflicts"]]
    assert areas == sorted(areas, reverse=True)
    # the rule rows carry the same raw sums the full listing adds up to
    for r in doc["rules"]:
        if r["applicable"]:
            listed = [c["area_m2"] for c in full["conflicts"] if c["rule"] == r["rule"]
                      and c["a_layer"] == r["a_layer"] and c["b_layer"] == r["b_layer"]]
            assert r["area_raw_sum"] == approx(sum(listed), rel=1e-12, abs=1e-9)
    assert doc["matrix"] == full["matrix"] and doc["rules"] == full["rules"]
    code, out5, _ = run_cli("overlaps", ws_path, "--format", "json", "--limit", "5")
    assert len(json.loads(out5)["conflicts"]) == 5


def test_conflicts_without_geometry_keep_areas_and_points(ws_path):
    _, layers = load_target(ws_path)
    lines = [lyr for lyr in layers if lyr.name != "towns"]
    an = OverlapAnalysis(lines, "ellipsoidal")
    s1, with_geom = an.conflicts(unit="m2")
    s2, without = an.conflicts(unit="m2", geometry=False)
    assert [r.area_m2 for r in s1] == [r.area_m2 for r in s2]
    assert [r.conflicts for r in s1] == [r.conflicts for r in s2]
    assert len(with_geom) == len(without) > 0
    assert np.array_equal(with_geom["area_m2"].to_numpy(), without["area_m2"].to_numpy())
    assert without.geometry.isna().all()
    # each lon/lat point of the geometry-free listing lies inside its polygon (EPSG:4490)
    pts = shapely.points(without["lon"].to_numpy(), without["lat"].to_numpy())
    inside = shapely.intersects(np.asarray(with_geom.geometry.values, dtype=object),
                                shapely.buffer(pts, 1e-7))
    assert inside.all()


# ------------------------------------------------------------------------- check, streamed
from test_siting import GK, origin, workspace, world  # noqa: E402, F401  (fixtures)


@pytest.fixture(scope="module")
def batch(origin, tmp_path_factory):  # noqa: F811
    """300 seeded sites across the siting test world: points with radii, boxes, corridors."""
    import geopandas as gpd

    rng = np.random.default_rng(5)
    n = 300
    x = origin[0] + rng.uniform(-6000, 6000, n)
    y = origin[1] + rng.uniform(-1500, 5500, n)
    kind = np.arange(n) % 3
    geoms = np.where(kind == 0, shapely.points(x, y),
                     np.where(kind == 1, shapely.box(x, y, x + rng.uniform(20, 400, n),
                                                     y + rng.uniform(20, 400, n)),
                              shapely.linestrings(np.stack([np.stack([x, y], 1),
                                                            np.stack([x + 800, y + 90], 1)],
                                                           1))))
    cats = rng.choice(["industrial", "urban", "tourism", "infrastructure_national"], n)
    gdf = gpd.GeoDataFrame({"id": [f"S{i}" for i in range(n)], "category": cats,
                            "radius_m": np.where(kind == 0, 50.0, np.nan),
                            "width_m": np.where(kind == 2, 20.0, np.nan)},
                           geometry=geoms, crs=GK)
    path = tmp_path_factory.mktemp("batch") / "sites.gpkg"
    gdf.to_file(path)
    return path, gdf


def test_check_chunks_equal_one_batch(workspace, batch):  # noqa: F811
    from ecogis.rules import load_rulebook
    from ecogis.siting import SitingEngine
    from ecogis.workspace import Workspace

    ws = Workspace.open(workspace)
    layers = {i.name: (i.kind, ws.read(i.name)) for i in ws.layers()}
    engine = SitingEngine(layers, load_rulebook("anju"))
    whole = engine.check(batch[1]).site_dicts(geometry=True)
    parts = [d for r in engine.check_chunks(batch[1], chunk=37)
             for d in r.site_dicts(geometry=True)]
    assert parts == whole
    assert {d["verdict"] for d in whole} >= {"forbidden", "allowed"}
    # a checked chunk's prepared sites are released (GEOS grows their indexes on use)
    from ecogis.siting import prepare_sites

    ss = prepare_sites(batch[1], engine.crs, engine.rulebook.categories)
    assert shapely.is_prepared(ss.geoms).all()
    it = engine.check_chunks(ss, chunk=100)
    next(it)
    next(it)
    prepared = shapely.is_prepared(ss.geoms)
    assert not prepared[:100].any() and prepared[200:].all()


def test_check_jsonl_and_json_streamed(run_cli, workspace, batch, tmp_path):  # noqa: F811
    path, gdf = batch
    code, out, err = run_cli("check", workspace, path, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    code, lines, err = run_cli("check", workspace, path, "--format", "jsonl", "--chunk", "41")
    assert code == 0, err
    rows = [json.loads(line) for line in lines.splitlines()]
    code, out2, _ = run_cli("check", workspace, path, "--format", "json", "--chunk", "13",
                            "--geometry", "-o", tmp_path / "r.json")
    doc2 = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert len(rows) == len(doc["sites"]) == len(gdf)
    assert [r["id"] for r in rows] == list(gdf["id"])
    assert rows == doc["sites"]  # the same records, without geometry by default
    assert not any("geometry" in r for r in rows)
    assert [{k: v for k, v in s.items() if k != "geometry"} for s in doc2["sites"]] == rows
    for key in ("workspace", "sites_file", "verdict", "counts", "unit", "method",
                "distance_crs", "crs", "rulebook", "layers", "not_evaluated", "farmland_m2",
                "compensation_m2", "sites", "warnings"):
        assert key in doc and key in doc2
    verdicts = [r["verdict"] for r in rows]
    assert doc["counts"] == {v: verdicts.count(v) for v in doc["counts"]} == doc2["counts"]
    assert doc["farmland_m2"] == approx(sum(r["farmland_m2"] for r in rows), rel=1e-12)
    assert doc["verdict"] == "forbidden"
    # --geometry echoes the site as given, in lon/lat
    want = gdf.to_crs(4490).geometry.values
    got = [shapely.from_geojson(json.dumps(s["geometry"])) for s in doc2["sites"]]
    assert max(shapely.hausdorff_distance(g, w) for g, w in zip(got, want, strict=True)) < 1e-8
    assert [g.geom_type for g in got] == [w.geom_type for w in want]
    code, _, _ = run_cli("check", workspace, path, "--format", "jsonl", "--fail-on",
                         "forbidden")
    assert code == 1
