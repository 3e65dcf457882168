"""The siting engine cached per workspace version (in-process memo and a file beside it)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import shapely
from test_siting import GK, _box, _sites, origin, workspace, world  # noqa: F401  (fixtures)

from ecogis import siting_cache
from ecogis.rules import load_rulebook
from ecogis.siting import SitingEngine, engine_for
from ecogis.workspace import Workspace


@pytest.fixture()
def ws_copy(workspace, tmp_path):  # noqa: F811
    dst = tmp_path / "ws.gpkg"
    shutil.copy2(workspace, dst)
    siting_cache.clear_memo()
    yield dst
    siting_cache.clear_memo()


@pytest.fixture()
def sites(origin):  # noqa: F811
    rng = np.random.default_rng(2)
    x = origin[0] + rng.uniform(-5000, 5000, 120)
    y = origin[1] + rng.uniform(-1000, 5000, 120)
    geoms = list(shapely.box(x, y, x + 150, y + 120))
    return _sites(geoms, list(rng.choice(["industrial", "urban", "tourism"], 120)))


def _fresh(path) -> SitingEngine:
    ws = Workspace.open(path)
    rb = load_rulebook("anju")
    needed = set(rb.kinds_used) | {"farmland"}
    layers = {i.name: (i.kind, ws.read(i.name)) for i in ws.layers() if i.kind in needed}
    return SitingEngine(layers, rb)


def test_memo_then_disk_give_the_fresh_engine(ws_copy, sites):
    want = _fresh(ws_copy).check(sites).site_dicts()
    first = engine_for(ws_copy)
    files = list(siting_cache.cache_dir(ws_copy).glob("siting-*.npz"))
    assert len(files) == 1
    again = engine_for(ws_copy)
    assert all(again.layers[n] is first.layers[n] for n in first.layers)  # the memo
    siting_cache.clear_memo()
    loaded = engine_for(ws_copy)  # from the file
    assert not any(loaded.layers[n] is first.layers[n] for n in first.layers)
    for n, li in first.layers.items():
        lj = loaded.layers[n]
        assert shapely.equals_identical(li.parts, lj.parts).all()  # WKB: exact to the bit
        assert np.array_equal(li.part_feature, lj.part_feature)
        assert np.array_equal(li.feature_ids, lj.feature_ids)
        assert (li.overlaps is None) == (lj.overlaps is None)
        if li.overlaps is not None:
            assert np.array_equal(li.overlaps, lj.overlaps)
        assert list(li.gdf.columns) == list(lj.gdf.columns)
    for engine in (first, again, loaded):
        assert engine.check(sites).site_dicts() == want
    assert engine.crs == first.crs


def test_a_new_workspace_version_gets_a_new_engine(ws_copy, sites, origin):  # noqa: F811
    before = engine_for(ws_copy).check(sites)
    forbidden = [s for s in before.sites if s.verdict == "forbidden"]
    assert forbidden
    ws = Workspace.open(ws_copy)
    red = next(i.name for i in ws.layers() if i.kind == "redline")
    ws.write(red, ws.read(red).iloc[0:0], "redline")  # the redline layer emptied
    after = engine_for(ws_copy).check(sites)
    want = _fresh(ws_copy).check(sites)
    assert after.site_dicts() == want.site_dicts()
    assert after.site_dicts() != before.site_dicts()
    assert len(list(siting_cache.cache_dir(ws_copy).glob("siting-*.npz"))) == 1  # old removed


def test_damaged_cache_is_rebuilt_and_disk_can_be_off(ws_copy, sites):
    engine_for(ws_copy)
    (f,) = siting_cache.cache_dir(ws_copy).glob("siting-*.npz")
    f.write_bytes(b"not a cache")
    siting_cache.clear_memo()
    got = engine_for(ws_copy).check(sites).site_dicts()
    assert got == _fresh(ws_copy).check(sites).site_dicts()
    assert f.read_bytes()[:2] == b"PK"  # rewritten
    shutil.rmtree(siting_cache.cache_dir(ws_copy))
    siting_cache.clear_memo()
    engine_for(ws_copy, disk=False)
    assert not siting_cache.cache_dir(ws_copy).exists()


def test_cached_engine_keeps_the_role_columns(ws_copy, sites):
    """A layer whose fields carry bureau names (名称, HXLX): the cached engine has the same
    role columns (name, type) Workspace.read adds, so hits name the same features."""
    ws = Workspace.open(ws_copy)
    red = next(i.name for i in ws.layers() if i.kind == "redline")
    gdf = ws.read(red, roles=False)
    gdf = gdf.drop(columns=[c for c in ("name",) if c in gdf.columns])
    gdf["名称"] = [f"红线{i}" for i in range(len(gdf))]
    gdf["HXLX"] = "生物多样性维护"
    ws.write(red, gdf, "redline")
    siting_cache.clear_memo()
    built = engine_for(ws_copy)
    siting_cache.clear_memo()
    loaded = engine_for(ws_copy)
    assert {"name", "type", "名称", "HXLX"} <= set(built.layers[red].gdf.columns)
    assert list(loaded.layers[red].gdf.columns) == list(built.layers[red].gdf.columns)
    got = loaded.check(sites).site_dicts()
    assert got == built.check(sites).site_dicts() == _fresh(ws_copy).check(sites).site_dicts()
    names = {h["name"] for s in got for h in s["hits"] if h["layer"] == red}
    assert names and all(n.startswith("红线") for n in names)
