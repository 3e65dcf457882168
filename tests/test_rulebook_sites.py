"""A test site per rule, generated from the rulebook data (issue 12 acceptance).

For every rule of every regional rulebook (and the national baseline, checked in 安居's
workspace) a one-feature workspace is built inside the region's real boundary
(``layers/boundaries/<region>.gpkg``) and three sites are checked with the real engine:

* **inside**: a site the rule's test and site filter select, of a category the rule names
  (the most specific one in its topic): the rule must fire with its verdict, or be displaced
  by a rule whose ``overrides`` names it (then it is reported as ``overridden``);
* **just outside**: the same category 20 m beyond the rule's reach (or downstream of the
  feature for ``upstream``, inside the layer for ``outside``): the rule must not fire;
* **excepted**: a category the rule does not bind, or that a more specific rule of the same
  topic takes (or, for a rule that binds only改扩建, a new project): the rule must not fire.

The geometry is plain: 400 m squares and 10 m site squares in the region's GK plane, so the
distances are known by construction.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from ecogis.boundaries import load_boundary
from ecogis.crs import metric_crs
from ecogis.rules import ANY, CONSTRUCTION, load_rulebook
from ecogis.siting import SitingEngine

REGIONS = ["anju", "ziyang", "shawan", "yongchuan", "tongnan"]
HALF = 200.0  # half side of a feature square (m)
SITE = 10.0  # side of a site square (m)
MARGIN = 20.0  # "just outside": this far beyond the reach (m)


def _cases():
    out = []
    for region in REGIONS:
        for r in load_rulebook(region).rules:
            if r.rulebook == region or (region == "anju" and r.rulebook == "national"):
                out.append(pytest.param(region, r.id, id=f"{region}:{r.id}"))
    return out


_ENV: dict[str, tuple] = {}


def _region_env(region: str):
    if region not in _ENV:
        b = load_boundary(region)
        ll = b.geometry.iloc[0]
        crs = metric_crs(ll.bounds)
        poly = gpd.GeoSeries([ll], crs=b.crs).to_crs(crs).iloc[0]
        c = shapely.get_point(shapely.maximum_inscribed_circle(poly, 50.0), 0)
        _ENV[region] = (crs, poly, c)
    return _ENV[region]


def _square(x: float, y: float, half: float):
    return shapely.box(x - half, y - half, x + half, y + half)


def _feature_attrs(rb, r, category: str) -> dict:
    kind = rb.kinds[r.kind]
    attrs: dict = {"name": "测试要素"}
    for f in kind.required:
        attrs[f] = kind.values.get(f, ("测试",))[0]
    for f, vals in r.where.items():
        attrs[f] = vals[0]
    for f, groups in r.groups.items():
        attrs[f] = kind.groups[groups[0]][0]
    if r.feature_categories:
        attrs[r.feature_categories] = category
    if r.distance_field and r.distance_m is None:
        attrs[r.distance_field] = 30.0
    return attrs


def _reach(r) -> float:
    if r.test == "within":
        return r.distance_m if r.distance_m is not None else 30.0
    if r.test == "band":
        return r.band_m[1]
    return 0.0


def _inside_category(rb, r) -> str | None:
    """A category the rule binds as the most specific rule of its topic (None: none)."""
    cats = rb.categories
    rivals = [o for o in rb.rules if o.id != r.id and o.topic_key == r.topic_key
              and o.kind == r.kind and o.test != "outside"]
    candidates = [c for c in r.categories if c != ANY] or list(cats.categories)
    for c in candidates:
        mine = cats.rank(c, r.categories)
        if all(not (0 <= cats.rank(c, o.categories) < mine) for o in rivals):
            return c
    return None


def _excepted_category(rb, r) -> str | None:
    """A category the rule does not bind, or that a more specific rival of its topic takes."""
    cats = rb.categories
    for o in rb.rules:
        if o.id != r.id and o.topic_key == r.topic_key and o.kind == r.kind \
                and not o.site_filtered and o.test == r.test and not o.feature_categories:
            for c in o.categories:
                if c != ANY and 0 <= cats.rank(c, o.categories) < cats.rank(c, r.categories):
                    return c
    for c in cats.categories:
        if cats.rank(c, r.categories) < 0:
            return c
    return None


def _site_attrs(r, *, inside: bool = True) -> dict:
    a: dict = {}
    if r.construction:
        a["construction"] = r.construction[0]
    if r.capacity_below is not None:
        a["capacity"] = r.capacity_below[0] / 2 if inside else r.capacity_below[0] * 2
    if r.capacity_over is not None:
        a["capacity"] = r.capacity_over[0] * 2 if inside else r.capacity_over[0] / 2
    return a


def _geometry(region: str, r, where: str):
    """(layers, site geometry) in the region's plane for one rule and one site placement."""
    crs, poly, c = _region_env(region)
    x, y = c.x, c.y
    side = math.sqrt(r.area_over_m2 * 1.5) if r.area_over_m2 else SITE
    half_f = max(HALF, side + 100.0)
    kind_geom = "line" if r.kind in ("river", "shoreline") else "polygon"
    layers: dict = {}
    if r.test == "upstream":
        river = shapely.LineString([(x - 5000, y), (x + 5000, y)])  # flows west -> east
        layers["rivers"] = ("river", gpd.GeoDataFrame({"name": ["测试河"]}, geometry=[river],
                                                      crs=crs))
        feat = _square(x + 3000, y, HALF)
        near = r.near_m / 2
        sx = x - 3000 if where == "inside" else x + 4500  # downstream of the feature: no
        return layers, feat, _square(sx, y + near + SITE / 2, SITE / 2)
    if r.kind == "admin":
        feat = poly
        if where == "outside":
            minx, miny, maxx, maxy = poly.bounds
            return layers, feat, _square(maxx + 1000, (miny + maxy) / 2, side / 2)
        return layers, feat, _square(x, y, side / 2)
    feat = (shapely.LineString([(x - 2000, y), (x + 2000, y)]) if kind_geom == "line"
            else _square(x, y, half_f))
    edge = 0.0 if kind_geom == "line" else half_f
    if r.test == "outside":
        if where == "inside":  # the rule fires for a site outside the layer
            return layers, feat, _square(x, y + edge + 1000, side / 2)
        return layers, feat, _square(x, y, side / 2)
    if r.test in ("intersects", "in_catchment") or _reach(r) == 0:
        if where == "inside":
            return layers, feat, _square(x, y, side / 2)
        return layers, feat, shapely.box(x - SITE / 2, y + edge + MARGIN, x + SITE / 2,
                                         y + edge + MARGIN + SITE)
    if where == "inside":
        lo = r.inner_m
        d = (lo + _reach(r)) / 2
    else:
        d = _reach(r) + MARGIN
    return layers, feat, shapely.box(x - SITE / 2, y + edge + d, x + SITE / 2,
                                     y + edge + d + SITE)


def _check(region: str, rule_id: str, where: str, category: str, attrs: dict):
    rb = load_rulebook(region)
    r = next(x for x in rb.rules if x.id == rule_id)
    crs = _region_env(region)[0]
    layers, feat, site = _geometry(region, r, where)
    layers["features"] = (r.kind, gpd.GeoDataFrame({k: [v] for k, v in
                                                    _feature_attrs(rb, r, category).items()},
                                                   geometry=[feat], crs=crs))
    sites = gpd.GeoDataFrame({"id": [1], "category": [category],
                              **{k: [v] for k, v in attrs.items()}}, geometry=[site], crs=crs)
    res = SitingEngine(layers, rb, crs=crs).check(sites)
    return rb, r, res.sites[0]


@pytest.mark.parametrize(("region", "rule_id"), _cases())
def test_rule_fires_inside_not_just_outside_nor_for_the_excepted(region, rule_id):
    rb = load_rulebook(region)
    r = next(x for x in rb.rules if x.id == rule_id)
    cat = _inside_category(rb, r)
    if cat is None:
        pytest.skip("every category is taken by a more specific rule of the topic")
    attrs = _site_attrs(r)
    _, _, s = _check(region, rule_id, "inside", cat, attrs)
    fired = [h for h in s.hits if h.rule == rule_id]
    displaced = [h for h in s.overridden if h.rule == rule_id]
    assert fired or displaced, (s.verdict, [h.rule for h in s.hits])
    if fired:
        assert fired[0].verdict == r.verdict
        assert fired[0].citation["document"] == r.citation.document
        if r.rulebook != "national":
            assert fired[0].citation["file"] == r.citation.file
            assert fired[0].citation["line"] == r.citation.line
    else:
        winner = next(x for x in rb.rules if x.id == displaced[0].overridden_by)
        assert rule_id in winner.overrides
        assert any(h.rule == winner.id and rule_id in h.overrides for h in s.hits)
    # just outside the reach (or downstream, or inside the layer for `outside`)
    _, _, s = _check(region, rule_id, "outside", cat, attrs)
    assert rule_id not in {h.rule for h in s.hits} | {h.rule for h in s.overridden}
    # excepted category, or another construction / a size beyond the threshold
    exc = _excepted_category(rb, r)
    if exc is not None:
        _, _, s = _check(region, rule_id, "inside", exc, attrs)
        assert rule_id not in {h.rule for h in s.hits}, exc
    if r.construction:
        other = next(c for c in CONSTRUCTION if c not in r.construction)
        _, _, s = _check(region, rule_id, "inside", cat, {**attrs, "construction": other})
        assert rule_id not in {h.rule for h in s.hits}, other
    if r.capacity_over is not None or r.capacity_below is not None:
        _, _, s = _check(region, rule_id, "inside", cat, _site_attrs(r, inside=False))
        assert rule_id not in {h.rule for h in s.hits}


def test_cases_cover_every_regional_rule():
    ids = {p.values[1] for p in _cases()}
    for region in REGIONS:
        mine = {r.id for r in load_rulebook(region).rules if r.rulebook == region}
        assert mine <= ids
    assert len(ids) >= 150
    assert np.all([isinstance(i, str) for i in ids])
