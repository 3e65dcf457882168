"""The GeoPackage workspace: opens as a normal GeoPackage, metadata, atomic writes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import fiona
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from conftest import ref_area_m2

import ecogis.workspace as wsmod
from ecogis.errors import InputError, WorkspaceError
from ecogis.workspace import Workspace, is_workspace, open_workspace


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture()
def towns(anju) -> gpd.GeoDataFrame:
    """A synthetic partition of the real 安居区 into 6 'towns' (Voronoi cells, EPSG:4544)."""
    geom = anju.to_crs(4544).geometry.iloc[0]
    rng = np.random.default_rng(7)
    pts = shapely.points(rng.uniform(geom.bounds[:2], geom.bounds[2:], size=(6, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=geom))
    cells = shapely.intersection(cells, geom)
    names = [f"镇{i}" for i in range(len(cells))]
    return gpd.GeoDataFrame({"name": names}, geometry=cells, crs=4544)


@pytest.fixture()
def ws(anju, towns, tmp_path) -> Workspace:
    anju[["name", "geometry"]].to_file(tmp_path / "district.gpkg")
    towns.to_file(tmp_path / "towns.gpkg")
    w = Workspace.open(tmp_path / "ws.gpkg", create=True)
    w.import_file("admin", tmp_path / "district.gpkg", name="district")
    w.import_file("admin", tmp_path / "towns.gpkg", name="towns")
    return w


def test_workspace_is_a_normal_geopackage(ws):
    # GDAL through fiona (a second binding) sees the layers and the metadata tables
    names = fiona.listlayers(ws.path)
    assert {"district", "towns", "ecogis_layers", "ecogis_meta"} <= set(names)
    with fiona.open(ws.path, layer="towns") as src:
        assert len(src) == 6 and src.crs.to_epsg() == 4544
    assert pyogrio.read_info(ws.path, layer="district")["driver"] == "GPKG"
    import sqlite3

    with sqlite3.connect(ws.path) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        kinds = dict(con.execute("SELECT name, kind FROM ecogis_layers").fetchall())
    assert kinds == {"district": "admin", "towns": "admin"}


def test_metadata_records_provenance(ws, tmp_path):
    info = ws.info("towns")
    assert info.kind == "admin" and info.source == "towns.gpkg"
    assert info.sha256 == hashlib.sha256((tmp_path / "towns.gpkg").read_bytes()).hexdigest()
    assert info.crs == "EPSG:4544" and info.crs_source == "file"
    assert info.imported_at and info.features == 6
    assert is_workspace(ws.path)
    ws.set_meta(region="anju", synthetic=True)
    assert Workspace.open(ws.path).meta == {"region": "anju", "synthetic": True}


def test_failed_import_leaves_workspace_unchanged(ws, anju, tmp_path, monkeypatch):
    before = sha(ws.path)
    anju.to_file(tmp_path / "red.gpkg")
    real = wsmod.pyogrio.write_dataframe

    def write_then_fail(*args, **kwargs):
        real(*args, **kwargs)  # the layer is really written into the working copy ...
        raise OSError("disk full (injected)")  # ... then the import fails

    monkeypatch.setattr(wsmod.pyogrio, "write_dataframe", write_then_fail)
    with pytest.raises(OSError, match="injected"):
        ws.import_file("redline", tmp_path / "red.gpkg")
    monkeypatch.undo()
    assert sha(ws.path) == before
    assert Workspace.open(ws.path).names() == ["district", "towns"]
    assert not list(tmp_path.glob(".ws.*"))  # the working copy is cleaned up


def test_killed_import_leaves_workspace_unchanged(ws, anju, tmp_path):
    """A process killed (os._exit) just before the commit leaves the original intact."""
    before = sha(ws.path)
    anju.to_file(tmp_path / "red.gpkg")
    script = textwrap.dedent(f"""
        import os, ecogis.workspace as w
        w.os.replace = lambda *a, **k: os._exit(9)
        ws = w.Workspace.open({str(ws.path)!r})
        ws.import_file("redline", {str(tmp_path / "red.gpkg")!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True,
                          cwd=Path(__file__).parent.parent)
    assert proc.returncode == 9
    assert sha(ws.path) == before
    assert "redline" not in Workspace.open(ws.path).names()


def test_transaction_groups_writes(ws, anju):
    before = sha(ws.path)
    with pytest.raises(RuntimeError), ws.transaction():
        ws.write("redline", anju, "redline")
        ws.write("ugb", anju, "ugb")
        assert set(ws.names()) >= {"redline", "ugb"}
        raise RuntimeError("abort")
    assert sha(ws.path) == before
    with ws.transaction():
        ws.write("redline", anju, "redline")
        ws.write("ugb", anju, "ugb")
    assert set(Workspace.open(ws.path).names()) == {"district", "towns", "redline", "ugb"}


def test_reimport_replaces_and_says_so(ws, tmp_path):
    rep = ws.import_file("admin", tmp_path / "towns.gpkg", name="towns")
    assert rep.replaced and len(ws.read("towns")) == 6


def test_areas_by_admin_sum_to_the_layer(ws, anju, run_cli):
    code, out, err = run_cli("areas", ws.path, "--layer", "district", "--by", "admin",
                             "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    total = d["layers"][0]["area"]
    assert total == pytest.approx(ref_area_m2(anju.geometry.iloc[0]) / 1e6, rel=1e-8)
    zones = [r for r in d["by"] if r["zone"] != "(outside)"]
    assert len(zones) == 6
    assert sum(r["area"] for r in zones) == pytest.approx(total, rel=1e-7)


def test_areas_by_field(tmp_path, run_cli):
    core = shapely.box(105.30, 30.30, 105.32, 30.31)
    exp = shapely.box(105.32, 30.30, 105.33, 30.31)
    gpd.GeoDataFrame({"zone": ["核心区", "实验区"]}, geometry=[core, exp], crs=4490).to_file(
        tmp_path / "pa.gpkg")
    code, out, err = run_cli("import", "ws.gpkg", "protected_area", tmp_path / "pa.gpkg")
    assert code == 0, err
    code, out, err = run_cli("areas", "ws.gpkg", "--by", "zone", "--unit", "ha", "--format", "json")
    by = {r["zone"]: r["area"] for r in json.loads(out)["by"]}
    assert by["核心区"] == pytest.approx(ref_area_m2(core) / 1e4, rel=1e-9)
    assert by["实验区"] == pytest.approx(ref_area_m2(exp) / 1e4, rel=1e-9)


def test_layers_command(ws, run_cli):
    code, out, _ = run_cli("layers", ws.path, "--format", "json")
    d = json.loads(out)
    rows = {r["name"]: r for r in d["layers"]}
    assert rows["towns"]["kind"] == "admin" and rows["towns"]["features"] == 6
    assert rows["towns"]["crs"] == "EPSG:4544" and len(rows["towns"]["bbox"]) == 4
    code, out, _ = run_cli("layers", ws.path)
    assert "行政区/乡镇" in out


def test_version(capsys):
    import ecogis
    from ecogis.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ecogis {ecogis.__version__}"


def test_not_a_workspace_and_postgis_seam(tmp_path):
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4490).to_file(tmp_path / "p.gpkg")
    with pytest.raises(InputError, match="not an ecogis workspace"):
        Workspace.open(tmp_path / "p.gpkg")
    # a PostGIS URI goes to the PostGIS workspace: an unreachable server is one clear error
    with pytest.raises(WorkspaceError, match="cannot connect to PostgreSQL.*fix: "):
        open_workspace("postgresql://127.0.0.1:1/ecogis")


def test_kinds_command_lists_the_data_file(run_cli):
    code, out, _ = run_cli("kinds", "--format", "json")
    kinds = {k["id"]: k for k in __import__("json").loads(out)["kinds"]}
    required = {"admin", "redline", "farmland", "cultivated", "ugb", "eco_control",
                "protected_area", "water_source", "river", "env_unit", "industrial_park"}
    assert required <= set(kinds)
    assert kinds["water_source"]["values"]["level"] == ["一级", "二级", "准保护区"]
    assert {"核心保护区", "一般控制区", "核心区", "缓冲区", "实验区"} == set(
        kinds["protected_area"]["values"]["zone"])
    assert kinds["river"]["geometry"] == "line_or_polygon"


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["areas", "x.gpkg", "--method", "bogus"], "invalid choice"),
        (["map", "x.gpkg", "-o", "m.html", "--simplify-m", "nan"], "finite number"),
        (["check", "x.gpkg", "--lonlat", "105.4,30.3", "--radius", "nan"], "finite number"),
        (["import", "x.gpkg", "redline", "r.geojson", "--encoding", "nosuch"], "unknown encoding"),
        (["import", "notgpkg.gpkg", "redline", "r.geojson"], "not a GeoPackage"),
        (["layers", "."], "is a directory"),
        (["demo", "--out", "notgpkg.gpkg"], "--out must be a directory"),
        (["reconcile", "--plan", "anju", "--boundary", "nosuch.gpkg"], "not found"),
        (["plans", "anju", "--seeds", "nosuchdir"], "seeds folder"),
    ],
)
def test_usage_and_input_errors_are_one_line_exit_2(argv, needle, run_cli):
    gpd.GeoDataFrame({"name": ["r"]}, geometry=[shapely.box(105.3, 30.3, 105.31, 30.31)],
                     crs=4490).to_file("r.geojson")
    Path("notgpkg.gpkg").write_text("not a database")
    code, out, err = run_cli(*argv)
    assert code == 2, (out, err)
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_output_gpkg_never_replaces_a_workspace_or_other_data(ws, tmp_path):
    from ecogis.workspace import check_output_gpkg

    with pytest.raises(InputError, match="ecogis workspace"):
        check_output_gpkg(ws.path, ["conflicts"])
    other = tmp_path / "keep.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4490).to_file(other, layer="farm")
    with pytest.raises(InputError, match="other layers"):
        check_output_gpkg(other, ["conflicts"])
    check_output_gpkg(tmp_path / "new.gpkg", ["conflicts"])  # a new file is fine
