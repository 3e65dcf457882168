"""The map as a planner uses it (issue 15, point 3), driven in headless Chromium by playwright.

A click on a redline feature opens the redline's popup (the town boundaries drawn on top are
outlines that let clicks through); the attribution has no flag; the scale is metric only;
there is a north arrow; town labels appear from zoom 9 and hide below; the legend folds;
site popups are Chinese tables (category in Chinese, the citation as text, no Python repr).

Uses the system /usr/bin/chromium (never downloads a browser); skips without it unless
``ECOGIS_REQUIRE_BROWSER=1``. Real boundary 安居区, synthetic layers (tests/_mapdata.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import _mapdata as md
import pytest
import shapely

from ecogis.maps import MapLayer, make_map, read_sites, save_map

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        msg = "/usr/bin/chromium is absent: install the Debian package `chromium`"
        if os.environ.get("ECOGIS_REQUIRE_BROWSER") == "1":
            pytest.fail(msg + " (ECOGIS_REQUIRE_BROWSER=1)")
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"])
        yield b
        b.close()


def _check_json():
    doc = md.sites_check()
    doc["sites"][0]["category"] = "industrial"
    doc["sites"][0]["hits"][0]["citation"] = {
        "document": "《生态保护红线管理办法》", "clause": "第十条", "verified": True,
        "text": "《生态保护红线管理办法》 第十条"}
    return doc


def _page_file(d: Path, renderer: str) -> Path:
    import json

    check = d / "check.json"
    check.write_text(json.dumps(_check_json(), ensure_ascii=False), encoding="utf-8")
    m = make_map([MapLayer("region", "admin", md.region()),
                  MapLayer("towns", "admin", md.towns()),
                  MapLayer("redline", "redline", md.redline())],
                 title="点击测试", sites=read_sites(check), renderer=renderer)
    return save_map(m, d / f"map_{renderer}.html")


@pytest.fixture(scope="module")
def page_files(tmp_path_factory):
    """The map with SVG paths and with Leaflet's canvas renderer (used above 3 000 features,
    whose hit test counts a click inside an unfilled polygon as a click on it)."""
    d = tmp_path_factory.mktemp("browser")
    return {r: _page_file(d, r) for r in ("svg", "canvas")}


def _open(browser, page_file, height: int = 900):
    pg = browser.new_page(viewport={"width": 1200, "height": height})
    requests = []
    pg.on("request", lambda r: requests.append(r.url) if not r.url.startswith(
        ("file:", "data:")) else None)
    pg.goto(page_file.resolve().as_uri())
    pg.wait_for_function("document.querySelector('.leaflet-control-attribution') !== null")
    pg.evaluate("""() => { window._m = Object.values(window).find(v => v instanceof L.Map); }""")
    return pg, requests


@pytest.fixture()
def page(browser, page_files):
    pg, requests = _open(browser, page_files["svg"])
    yield pg
    assert requests == []  # offline
    pg.close()


def _inside_redline():
    """A point well inside the largest redline polygon (lon, lat) and its display zoom."""
    red = md.redline().to_crs(md.GK)
    big = max(shapely.get_parts(red.geometry.values), key=lambda g: g.area)
    c = shapely.maximum_inscribed_circle(big)
    pt = shapely.get_point(c, 0)
    import geopandas as gpd

    ll = gpd.GeoSeries([pt], crs=md.GK).to_crs(4490).iloc[0]
    return ll.x, ll.y


def _click_at(page, lon, lat, zoom=14):
    page.evaluate(f"() => _m.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    page.wait_for_timeout(200)
    xy = page.evaluate(f"() => {{ const p = _m.latLngToContainerPoint([{lat}, {lon}]);"
                       "const r = _m.getContainer().getBoundingClientRect();"
                       "return [p.x + r.left, p.y + r.top]; }")
    page.mouse.click(xy[0], xy[1])
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    return page.inner_text(".leaflet-popup-content")


@pytest.mark.parametrize("renderer", ["svg", "canvas"])
def test_click_on_redline_opens_redline_popup(browser, page_files, renderer):
    page, requests = _open(browser, page_files[renderer])
    lon, lat = _inside_redline()
    # the point lies inside a town too: the towns layer is drawn above the redline
    towns = md.towns()
    assert towns.contains(shapely.Point(lon, lat)).any()
    text = _click_at(page, lon, lat)
    assert "生态保护红线" in text and "示意生态保护红线" in text
    assert "乡镇界" not in text and "行政区界" not in text
    assert requests == []
    page.close()


def test_attribution_without_flag_and_metric_scale(page):
    attr = page.inner_html(".leaflet-control-attribution")
    assert "Leaflet" in attr and "<svg" not in attr and "🇺🇦" not in attr
    lines = page.query_selector_all(".leaflet-control-scale-line")
    assert len(lines) == 1
    text = lines[0].inner_text()
    assert text.endswith((" m", " km")) and "mi" not in text and "ft" not in text
    assert page.query_selector(".ecogis-north svg") is not None


def test_town_labels_follow_zoom(page):
    names = set(md.towns()["name"])
    page.evaluate("() => _m.setZoom(8, {animate: false})")
    page.wait_for_timeout(200)
    shown = page.evaluate("() => [...document.querySelectorAll('.ecogis-label-town')]"
                          ".filter(e => e.style.display !== 'none').map(e => e.textContent)")
    assert shown == []
    page.evaluate("() => _m.setZoom(10, {animate: false})")
    page.wait_for_timeout(200)
    shown = page.evaluate("() => [...document.querySelectorAll('.ecogis-label-town')]"
                          ".filter(e => e.style.display !== 'none').map(e => e.textContent)")
    assert set(shown) == names
    # redline names appear only closer in
    red = page.evaluate("() => [...document.querySelectorAll('.ecogis-label-feature')]"
                        ".filter(e => e.style.display !== 'none').length")
    assert red == 0
    page.evaluate("() => _m.setZoom(12, {animate: false})")
    page.wait_for_timeout(200)
    red = page.evaluate("() => [...document.querySelectorAll('.ecogis-label-feature')]"
                        ".filter(e => e.style.display !== 'none').length")
    assert red > 0


def test_legend_folds_away(page):
    assert page.evaluate("() => document.querySelector('details.ecogis-legend').open")
    # nothing covers the fold control (a real click, at its centre, reaches it)
    hit = page.evaluate("""() => { const s = document.querySelector('details.ecogis-legend summary');
        const r = s.getBoundingClientRect();
        const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return s.contains(e); }""")
    assert hit
    box = page.query_selector("details.ecogis-legend").bounding_box()
    page.click("details.ecogis-legend summary")
    assert not page.evaluate("() => document.querySelector('details.ecogis-legend').open")
    folded = page.query_selector("details.ecogis-legend").bounding_box()
    assert folded["height"] < box["height"] / 3


def test_site_popup_is_a_chinese_table(page):
    site = _check_json()["sites"][0]
    lon, lat = site["geometry"]["coordinates"]
    page.evaluate(f"() => _m.setView([{lat}, {lon}], 15, {{animate: false}})")
    page.wait_for_timeout(200)
    xy = page.evaluate(f"() => {{ const p = _m.latLngToContainerPoint([{lat}, {lon}]);"
                       "const r = _m.getContainer().getBoundingClientRect();"
                       "return [p.x + r.left, p.y + r.top]; }")
    page.mouse.click(xy[0], xy[1])
    page.wait_for_selector(".leaflet-popup-content table", timeout=5000)
    text = page.inner_text(".leaflet-popup-content")
    assert "工业项目" in text and "industrial" not in text
    assert "《生态保护红线管理办法》 第十条" in text
    assert "{" not in text and "'document'" not in text and "verified" not in text
    assert "禁止" in text


def test_legend_fold_control_uncovered_with_many_layers(browser, tmp_path):
    """With the demo's ~18 layers an expanded layer list reached down over the legend (and
    its fold control); the list now folds into Leaflet's layers button."""
    from ecogis.kinds import load_kinds

    towns = md.towns()
    kinds = [k.id for k in load_kinds() if k.geometry in ("polygon", "any")][:18]
    layers = [MapLayer(f"l{i}", k, towns.iloc[[i % len(towns)]]) for i, k in enumerate(kinds)]
    page_file = save_map(make_map(layers, title="多图层"), tmp_path / "many.html")
    pg, requests = _open(browser, page_file, height=600)  # a laptop-sized window
    ctl, leg = pg.evaluate("""() => [
        document.querySelector('.leaflet-control-layers').getBoundingClientRect().toJSON(),
        document.querySelector('details.ecogis-legend').getBoundingClientRect().toJSON()]""")
    overlap = (min(ctl["right"], leg["right"]) > max(ctl["left"], leg["left"])
               and min(ctl["bottom"], leg["bottom"]) > max(ctl["top"], leg["top"]))
    assert not overlap, (ctl, leg)
    pg.click("details.ecogis-legend summary", timeout=5000)
    assert not pg.evaluate("() => document.querySelector('details.ecogis-legend').open")
    assert requests == []
    pg.close()
