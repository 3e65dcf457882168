"""Public export (issue 15, point 5): ``make_map(public=True)`` / ``ecogis map --public``.

Every vertex of a public map lies on the 0.0005° grid (about 50 m), only kind, zone and name
survive, the 示意图 / 审图号 statement is printed, and non-public kinds (sites under review)
are refused unless asked. Checked on the HTML itself: the GeoJSON embedded in the page is
parsed back and every coordinate tested. Real boundary 安居区; layers synthetic.
"""

from __future__ import annotations

import json
import re

import _mapdata as md
import numpy as np
import pytest
from test_map_geometry import corridors
from test_qgis import water_source

from ecogis.maps import MapInputError, MapLayer, make_map, publication, render_html

GRID = 0.0005


def page_layers(html: str) -> list[tuple[dict, dict]]:
    """Return (FeatureCollection, spec) of each layer embedded in a map page
    (``ecogis.layer(data, spec)``)."""
    dec = json.JSONDecoder()
    out = []
    for m in re.finditer(r"ecogis\.layer\(", html):
        start = m.end()
        if html[start] != "{":
            continue  # the helper's own definition
        obj, end = dec.raw_decode(html, start)
        spec, _ = dec.raw_decode(html, html.index("{", end))
        out.append((obj, spec))
    return out


def page_collections(html: str) -> list[dict]:
    return [fc for fc, _ in page_layers(html)]


def coords(fc: dict) -> np.ndarray:
    pts: list = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            pts.append(c[:2])
        else:
            for x in c:
                walk(x)

    for f in fc["features"]:
        walk(f["geometry"]["coordinates"])
    return np.asarray(pts, dtype=float)


def off_grid(xy: np.ndarray) -> np.ndarray:
    k = xy / GRID
    return np.abs(k - np.round(k)) > 1e-6


@pytest.fixture(scope="module")
def layers():
    return [MapLayer("towns", "admin", md.towns()),
            MapLayer("redline", "redline", corridors(30)),
            MapLayer("farmland", "farmland", md.farmland(n=3000), dissolve=False),
            MapLayer("water", "water_source", water_source()),
            MapLayer("parks", "protected_area", md.protected())]


@pytest.fixture(scope="module")
def public_html(layers):
    return render_html(make_map(layers, title="公开图", public=True,
                                map_number="GS(2024)1234号"))


def test_policy_is_read_from_kinds_toml():
    pub = publication()
    assert pub.grid_deg == GRID and pub.min_tolerance_m == 50.0
    assert "site" in pub.nonpublic


def test_no_vertex_off_the_grid(public_html):
    fcs = page_collections(public_html)
    assert len(fcs) == 5
    total = 0
    for fc in fcs:
        xy = coords(fc)
        total += len(xy)
        assert not off_grid(xy).any()
    assert total > 100
    # label anchors are positions too
    labels = [lb for _, spec in page_layers(public_html) for lb in spec.get("labels", [])]
    assert len(labels) >= 10  # towns and named features
    assert not off_grid(np.array([lb[:2] for lb in labels], dtype=float)).any()


def test_internal_map_is_not_on_the_grid(layers):
    """The check above can fail: an internal map's vertices are mostly off the grid."""
    xy = np.vstack([coords(fc) for fc in page_collections(render_html(make_map(layers,
                                                                                title="t")))])
    assert off_grid(xy).mean() > 0.9


def test_only_kind_zone_and_name(public_html):
    keys = set()
    for fc in page_collections(public_html):
        for f in fc["features"]:
            keys |= set(f["properties"])
    assert keys <= {"name", "zone", "level"}
    assert {"zone", "level", "name"} <= keys  # parks zone, water level, names
    for secret in ("承包户", "SECRET-", "area_km2", "area_mu", "parcels", '"grade"',
                   "land_code"):
        assert secret not in public_html


def test_statement_and_map_number(public_html, layers):
    assert "示意图 · 审图号：GS(2024)1234号" in public_html
    html = render_html(make_map(layers[:2], title="t", public=True))
    assert "示意图 · 无审图号" in html
    assert "审图号" not in render_html(make_map(layers[:2], title="t"))


def test_nonpublic_kind_refused_unless_asked(layers):
    site = md.towns().iloc[:2].assign(id=["A", "B"])
    items = [*layers[:1], MapLayer("review", "site", site)]
    with pytest.raises(MapInputError, match="non-public"):
        make_map(items, title="t", public=True)
    m = make_map(items, title="t", public=True, include_nonpublic=True)
    xy = np.vstack([coords(fc) for fc in page_collections(render_html(m))])
    assert not off_grid(xy).any()
    make_map(items, title="t")  # an internal map carries it


def test_cli_public_map(tmp_path, run_cli):
    from ecogis.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    ws.write("towns", md.towns(), "admin")
    ws.write("water", water_source(), "water_source")
    ws.write("review", md.towns().iloc[:2].assign(id=["A", "B"]), "site")
    out = tmp_path / "pub.html"
    rc, _, err = run_cli("map", tmp_path / "ws.gpkg", "-o", out, "--public")
    assert rc == 2 and "'review'" in err and "--include-nonpublic" in err
    rc, stdout, err = run_cli("map", tmp_path / "ws.gpkg", "-o", out, "--public",
                              "--layers", "towns", "water", "--map-number", "川S(2024)7号",
                              "--format", "json")
    assert rc == 0, err
    doc = json.loads(stdout)
    assert doc["public"] is True and doc["grid_deg"] == GRID
    assert doc["map_number"] == "川S(2024)7号"
    html = out.read_text(encoding="utf-8")
    assert "审图号：川S(2024)7号" in html
    xy = np.vstack([coords(fc) for fc in page_collections(html)])
    assert not off_grid(xy).any()
