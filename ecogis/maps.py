"""Interactive planning maps as single offline HTML files (folium + vendored Leaflet).

The API other modules call is two functions and one dataclass::

    from ecogis.maps import MapLayer, make_map, save_map
    m = make_map([MapLayer("redline", "redline", gdf), ("towns", "admin", towns)],
                 title="安居区 三区三线", synthetic=True)
    save_map(m, "maps/anju.html")          # atomic write, Leaflet inlined: opens offline

What a map shows:

* every layer is a toggleable overlay in the kind's planning colour (``layers/kinds.toml``
  ``color``/``fill_opacity``), with a tooltip and a popup of its key attributes and the
  feature's area in km² and 亩 (geodesic, CGCS2000 ellipsoid, computed on the full geometry
  before any display simplification);
* ``admin`` layers are drawn as boundaries on top (one feature = the region, a thick dash-dot
  line; several = towns, thin dashes);
* siting results (``sites``) coloured by verdict with the hits in the popup, and a diff's
  ``lost`` (red) / ``gained`` (green) polygons;
* a Chinese legend, a scale bar, a title and a data-source note that says
  "示意数据 (synthetic)" when the data is synthetic, which public filter and which display
  simplification were applied.

Display geometry is simplified per layer with a tolerance in metres, in a CGCS2000
Gauss-Krüger plane: ``shapely.coverage_simplify`` for coverage kinds (shared edges stay shared),
``shapely.simplify(preserve_topology=True)`` otherwise; coordinates are then rounded to the
number of decimals the tolerance justifies (1e-5° ≈ 1.1 m). A coverage layer with more than
``dissolve_above`` features (tens of thousands of farmland parcels) is dissolved for display by
its first public grouping field (e.g. ``town``) and the note says so. When the whole map would
exceed ``max_vertices``, the tolerance of the largest automatic layer is doubled until it fits.

``public=True`` keeps only the attributes a kind lists as ``public`` (plus the computed area);
``generalise_m`` snaps display coordinates to a grid of that many metres. The map says both.
"""

from __future__ import annotations

import html as html_mod
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.map import Layer
from jinja2 import Template

from ecogis import offline
from ecogis.crs import CGCS2000, metric_crs
from ecogis.errors import InputError
from ecogis.kinds import Kind, KindRegistry, load_kinds
from ecogis.measure import geodesic_area, geodesic_length
from ecogis.styles import FIELD_LABELS, field_label, path_style, value_colors
from ecogis.units import from_m2

#: display tolerance (m) a layer starts from when it has no explicit ``simplify_m``
DEFAULT_TOLERANCE_M = 2.0
#: automatic tolerances are never raised above this (m)
MAX_AUTO_TOLERANCE_M = 64.0
#: vertex budget of a whole map (≈ 21 bytes per rounded vertex: ~8 MB of coordinates)
MAX_VERTICES = 400_000
#: a coverage layer with more features than this is dissolved for display
DISSOLVE_ABOVE = 5_000
#: a dissolve groups by a field only when it has at most this many distinct values
MAX_DISSOLVE_GROUPS = 500
#: above this many drawn features the map uses Leaflet's canvas renderer instead of SVG
CANVAS_ABOVE = 3_000

BASEMAPS = ("none", "osm", "tianditu", "amap")

VERDICTS: dict[str, tuple[str, str]] = {  # verdict -> (Chinese label, colour)
    "forbidden": ("禁止", "#e31a1c"),
    "conditional": ("有条件允许", "#ff7f00"),
    "warn": ("提示", "#fdbf11"),
    "allowed": ("允许", "#1a9850"),
}
DIFF_STYLES: dict[str, tuple[str, str]] = {  # diff layer -> (Chinese label, colour)
    "lost": ("减少 (lost)", "#e31a1c"),
    "gained": ("增加 (gained)", "#33a02c"),
}


def _field_label(f: str, default: str | None = None) -> str:
    """Chinese label of a popup field: its role's label in kinds.toml, else ``FIELD_LABELS``."""
    label = field_label(f, load_kinds())
    return default if label == f and default is not None else label


# fields whose values group a coverage layer when it is dissolved for display (first present)
_GROUP_FIELDS = ("town", "name", "zone", "level", "category", "type", "land_name")
# keys of a siting hit that a public map may show
_PUBLIC_HIT_KEYS = ("kind", "layer", "verdict", "rule", "message", "reason", "overlap_m2",
                    "distance_m", "citation")


class MapInputError(InputError):
    """A map cannot be drawn from the given layers, sites, diff or options."""


@dataclass(frozen=True)
class Publication:
    """What a public map may show: ``[publication]`` of ``layers/kinds.toml``.

    ``grid_deg``: every vertex is snapped to this lon/lat grid (degrees); ``min_tolerance_m``:
    geometries are simplified by at least this many metres first; ``fields``: attributes kept
    (``kind``, ``zone`` = the kind's zone-like field, ``name``) where the kind lists them as
    public; ``nonpublic``: kinds refused unless asked; ``statement``: 示意图 text.
    """

    grid_deg: float = 0.0005
    min_tolerance_m: float = 50.0
    fields: tuple[str, ...] = ("kind", "zone", "name")
    nonpublic: tuple[str, ...] = ("site",)
    statement: str = "示意图"


def publication() -> Publication:
    """Return the public-map policy from ``layers/kinds.toml`` (``[publication]``)."""
    from ecogis.data import check_keys, data_path, read_toml_cached

    path = data_path("kinds.toml")
    raw = dict(read_toml_cached(path).get("publication", {}))
    check_keys(raw, {"grid_deg", "min_tolerance_m", "fields", "nonpublic", "statement"},
               "[publication]", path)
    d = Publication()
    return Publication(grid_deg=float(raw.get("grid_deg", d.grid_deg)),
                       min_tolerance_m=float(raw.get("min_tolerance_m", d.min_tolerance_m)),
                       fields=tuple(raw.get("fields", d.fields)),
                       nonpublic=tuple(raw.get("nonpublic", d.nonpublic)),
                       statement=str(raw.get("statement", d.statement)))


def public_fields(kind: Kind, pub: Publication | None = None) -> list[str]:
    """Return the attribute fields of ``kind`` a public map keeps (``name``, the zone-like field).

    Only fields the kind lists as ``public`` are kept; ``zone`` stands for the kind's
    zone-like enumerated field (zone, level or category: the one its style is categorised by).
    """
    pub = pub or publication()
    out = []
    for f in pub.fields:
        if f == "zone":
            by, _ = value_colors(kind)
            cands = [by] if by else [c for c in ("zone", "level", "category") if c in kind.values]
            out += [c for c in cands if c in kind.public and c not in out]
        elif f != "kind" and f in kind.public and f not in out:
            out.append(f)
    return out


@dataclass
class MapLayer:
    """A layer to draw: its name, kind id and features (any CRS; lon/lat EPSG:4490 is used).

    ``simplify_m`` fixes the display tolerance in metres (None = automatic, starting at
    :data:`DEFAULT_TOLERANCE_M`); ``dissolve`` forces (True) or forbids (False) dissolving for
    display (None = automatic for coverage kinds above ``dissolve_above`` features).
    """

    name: str
    kind: str
    gdf: gpd.GeoDataFrame
    label: str | None = None
    simplify_m: float | None = None
    dissolve: bool | None = None
    show: bool = True
    synthetic: bool = False


@dataclass
class LayerStats:
    """What was drawn for one layer: features and vertices before/after, tolerance in metres."""

    name: str
    kind: str
    label: str
    features_in: int
    features_out: int
    vertices_in: int
    vertices_out: int
    tolerance_m: float
    method: str
    decimals: int
    dissolved_by: str | None = None
    fields: tuple[str, ...] = ()
    repaired: int = 0
    dropped: int = 0


@dataclass
class MapInfo:
    """Facts about a map made by :func:`make_map` (``m.ecogis``): layers drawn, notes shown."""

    title: str
    public: bool
    synthetic: bool
    basemap: str
    renderer: str
    layers: list[LayerStats] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    map_number: str | None = None
    grid_deg: float | None = None

    @property
    def vertices(self) -> int:
        return sum(s.vertices_out for s in self.layers)


# --------------------------------------------------------------------------- geometry helpers


def geodesic_area_m2(geoms) -> np.ndarray:
    """Return the geodesic area in m² of lon/lat (EPSG:4490) geometries, CGCS2000 ellipsoid."""
    return np.asarray(geodesic_area(np.asarray(geoms, dtype=object), crs=CGCS2000), dtype=float)


def decimals_for(tolerance_m: float) -> int:
    """Return the lon/lat decimals whose step (≈ 111 km × 10⁻ᵈ) is at most ``tolerance_m`` metres.

    Clamped to 4..7 (11 m .. 1 cm): 1 m gives 6, 2-10 m give 5, 20 m gives 4.
    """
    if tolerance_m <= 0:
        return 7
    return int(min(7, max(4, math.ceil(math.log10(111_320.0 / tolerance_m)))))


def _to_lonlat(gdf: gpd.GeoDataFrame, where: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise MapInputError("the layer has no CRS", layer=where,
                            fix="set the CRS (import it through the workspace) before mapping")
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if gdf.crs.equals(CGCS2000):
        return gdf
    return gdf.to_crs(CGCS2000)


@dataclass
class DisplayGeometry:
    """Display geometries (EPSG:4490) and how they were made: method, decimals, repairs.

    ``repaired`` counts features whose input or simplified geometry was invalid (self-
    overlapping parts, rings collapsed by rounding) and was rebuilt with
    ``shapely.make_valid(method="structure")``; ``dropped`` counts features that collapsed
    to nothing (empty geometries are returned for them, so the array keeps its length).
    """

    geoms: np.ndarray
    method: str
    decimals: int
    repaired: int = 0
    dropped: int = 0


def grid_decimals(grid_deg: float) -> int:
    """Return the decimals that write every multiple of ``grid_deg`` degrees exactly (0.0005 → 4)."""
    for d in range(0, 10):
        if abs(grid_deg * 10 ** d - round(grid_deg * 10 ** d)) < 1e-9:
            return d
    return 9


def _keep_dimension(geoms: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Return ``geoms`` keeping only parts of dimension ``dims`` (per geometry), as one type.

    A GeometryCollection (``make_valid`` output) becomes the Multi* of its parts of the
    wanted dimension (empty when it has none); other geometries of a lower dimension become
    empty.
    """
    out = geoms.copy()
    have = shapely.get_dimensions(out)
    coll = shapely.get_type_id(out) == 7
    wrong = (~coll) & (have != dims) & ~shapely.is_empty(out)
    out[wrong] = shapely.from_wkt("GEOMETRYCOLLECTION EMPTY")
    if coll.any():
        idx = np.flatnonzero(coll)
        parts, owner = shapely.get_parts(out[idx], return_index=True)
        pdims = shapely.get_dimensions(parts)
        for j, i in enumerate(idx):
            sel = parts[(owner == j) & (pdims == dims[i])]
            sel = shapely.get_parts(sel)  # multi parts -> single parts
            if dims[i] == 2:
                out[i] = shapely.multipolygons(sel) if len(sel) else shapely.Polygon()
            elif dims[i] == 1:
                out[i] = shapely.multilinestrings(sel) if len(sel) else shapely.LineString()
            else:
                out[i] = shapely.multipoints(sel) if len(sel) else shapely.Point()
    return out


def _repair(geoms: np.ndarray, dims: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rebuild the invalid ``geoms`` (``make_valid`` structure, collapsed parts dropped).

    Returns the geometries and the mask of those rebuilt.
    """
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if not bad.any():
        return geoms, bad
    out = geoms.copy()
    fixed = shapely.make_valid(out[bad], method="structure", keep_collapsed=False)
    out[bad] = _keep_dimension(fixed, dims[bad])
    return out, bad


def simplify_for_display(
    geoms, tolerance_m: float, *, coverage: bool = False, generalise_m: float | None = None,
    grid_deg: float | None = None, metric=None, cache: dict | None = None,
) -> DisplayGeometry:
    """Simplify lon/lat (EPSG:4490) ``geoms`` for display by ``tolerance_m`` metres; never invalid.

    The work is done in the CGCS2000 Gauss-Krüger plane ``metric`` (default: the 3° zone
    nearest the geometries' centre). Invalid input (e.g. a redline of self-overlapping
    corridor parts) is first rebuilt with ``shapely.make_valid(method="structure")``. Then
    ``shapely.coverage_simplify`` when ``coverage`` is true and the geometries are a valid
    coverage (shared edges stay shared), else ``shapely.simplify(preserve_topology=True)``;
    ``generalise_m`` simplifies by at least that much and snaps to a grid of that many metres
    (``shapely.set_precision``). Back in lon/lat, coordinates are snapped to ``grid_deg``
    degrees (``shapely.set_precision``: every vertex on the grid) or rounded to
    :func:`decimals_for` ``(tolerance)`` decimals. Whatever rounding made invalid is rebuilt
    again and whatever collapsed (a sliver ring of 2 points) is dropped: each result is
    valid, of its input's dimension, or empty.

    ``cache`` (a dict the caller keeps per layer) holds the projected, repaired geometries
    and the coverage check between calls on the same ``geoms`` with other tolerances.
    """
    from pyproj import Transformer

    cache = {} if cache is None else cache
    if "g" not in cache:
        geoms = np.asarray(geoms, dtype=object)
        if metric is None:
            b = shapely.total_bounds(geoms)
            metric = metric_crs(b if np.isfinite(b).all() else (105.0, 30.0, 105.0, 30.0))
        fwd = Transformer.from_crs(CGCS2000, metric, always_xy=True)
        cache["inv"] = Transformer.from_crs(metric, CGCS2000, always_xy=True)
        dims = shapely.get_dimensions(geoms)
        g = shapely.transform(geoms, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1])))
        g, repaired = _repair(g, dims)
        cache.update(g=g, dims=dims, repaired=repaired,
                     was_empty=shapely.is_empty(geoms) | shapely.is_missing(geoms))
    inv, g, dims = cache["inv"], cache["g"], cache["dims"]
    repaired, was_empty = cache["repaired"].copy(), cache["was_empty"]

    def back(c):
        return np.column_stack(inv.transform(c[:, 0], c[:, 1]))

    method = "none"
    tolerance_m = max(tolerance_m, generalise_m or 0.0)  # no detail finer than the grid
    if tolerance_m > 0:
        if "coverage" not in cache:
            polygonal = np.isin(shapely.get_type_id(g), (3, 6))
            cache["coverage"] = bool(coverage and polygonal.all() and len(g) > 0
                                     and shapely.coverage_is_valid(g))
        if coverage and cache["coverage"]:
            g = shapely.coverage_simplify(g, tolerance_m)
            method = "coverage_simplify"
        else:
            g = shapely.simplify(g, tolerance_m, preserve_topology=True)
            method = "simplify" if not coverage else "simplify (coverage not valid)"
    if generalise_m:
        g, n = _repair(g, dims)
        repaired |= n
        g = _keep_dimension(shapely.set_precision(g, generalise_m), dims)
        method += f" + grid {generalise_m:g} m"
    if grid_deg:
        g = shapely.transform(g, back)
        g, n = _repair(g, dims)
        repaired |= n
        g = _keep_dimension(shapely.set_precision(g, grid_deg), dims)
        decimals = grid_decimals(grid_deg)
        method += f" + grid {grid_deg:g}°"
        out = shapely.transform(g, lambda c: np.round(c, decimals))
    else:
        decimals = decimals_for(max(tolerance_m, generalise_m or 0.0))
        out = shapely.transform(g, lambda c: np.round(back(c), decimals))
    out, n = _repair(out, dims)
    repaired |= n
    out = shapely.remove_repeated_points(out)
    dropped = shapely.is_empty(out) & ~was_empty
    return DisplayGeometry(out, method, decimals, int((repaired & ~dropped).sum()),
                           int(dropped.sum()))


def display_geometry(
    geoms, tolerance_m: float, *, coverage: bool = False, generalise_m: float | None = None,
    grid_deg: float | None = None, metric=None,
) -> tuple[np.ndarray, str, int]:
    """Simplify lon/lat (EPSG:4490) ``geoms`` for display by ``tolerance_m`` metres.

    See :func:`simplify_for_display` (which also counts repairs and drops).

    Returns
    -------
    (geometries, method, decimals)
        Display geometries in EPSG:4490 (valid or empty), the method used (text) and the
        decimals kept.
    """
    r = simplify_for_display(geoms, tolerance_m, coverage=coverage, generalise_m=generalise_m,
                             grid_deg=grid_deg, metric=metric)
    return r.geoms, r.method, r.decimals


# --------------------------------------------------------------------------- attributes


def _clean(value: Any) -> Any:
    """Return ``value`` as a JSON-plain scalar or list (None for missing values)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_clean(v) for v in value]
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _clean_column(values: pd.Series) -> list:
    """Return a column as JSON-plain Python values (None for missing), like :func:`_clean`."""
    if values.dtype.kind in "biuf":
        out = values.tolist()
        if values.dtype.kind == "f":
            out = [None if (v != v or v in (math.inf, -math.inf)) else v for v in out]
        return out
    if values.dtype.kind == "b":
        return [bool(v) for v in values.tolist()]
    lst = values.tolist()
    if all(v is None or type(v) is str for v in lst):
        return lst
    return [_clean(v) for v in lst]


def _records(df: pd.DataFrame) -> list[dict]:
    """Return the rows of ``df`` as dicts of JSON-plain values, missing values left out."""
    keys = list(df.columns)
    cols = [_clean_column(df[k]) for k in keys]
    return [{k: v for k, v in zip(keys, row, strict=True) if v is not None}
            for row in zip(*cols, strict=True)]


def _fields_for(kind: Kind, columns, public: bool) -> list[str]:
    allowed = public_fields(kind) if public else kind.fields
    return [f for f in allowed if f in columns]


def _area_props(area_m2: np.ndarray) -> dict[str, np.ndarray]:
    return {"area_km2": np.round(from_m2(area_m2, "km2"), 4),
            "area_mu": np.round(from_m2(area_m2, "mu"), 1)}


_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _feature_collection(geoms: np.ndarray, props: list[dict]) -> str:
    gj = shapely.to_geojson(geoms)
    enc = _ENCODE  # one encoder for all features (json.dumps with options builds one per call)
    feats = [
        '{"type":"Feature","properties":' + enc(p) + ',"geometry":' + g + "}"
        for g, p in zip(gj, props, strict=True)
    ]
    text = '{"type":"FeatureCollection","features":[' + ",".join(feats) + "]}"
    return _script_safe(text)


def _script_safe(json_text: str) -> str:
    """Return JSON text that cannot close the ``<script>`` it is embedded in (``<\\/``)."""
    return json_text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


# --------------------------------------------------------------------------- page elements

_JS_HELPERS = """
<script>
var ecogis = (function(){
  function esc(s){ return String(s).replace(/[&<>"']/g, function(c){
    return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]; }); }
  function fmt(v){
    if (v === null || v === undefined) { return ''; }
    if (typeof v === 'number') { return v.toLocaleString('zh-CN', {maximumFractionDigits: 4}); }
    if (Array.isArray(v)) { return v.length ? '<ul class="ecogis-hits">' + v.map(function(x){
      return '<li>' + esc(x) + '</li>'; }).join('') + '</ul>' : '无'; }
    return esc(v);
  }
  function popup(f, spec){
    var p = f.properties || {}, rows = '';
    spec.fields.forEach(function(kv){
      if (p[kv[0]] !== null && p[kv[0]] !== undefined && p[kv[0]] !== '') {
        rows += '<tr><th>' + esc(kv[1]) + '</th><td>' + fmt(p[kv[0]]) + '</td></tr>'; }
    });
    return '<div class="ecogis-popup"><b>' + esc(spec.label) + '</b><table>' + rows + '</table></div>';
  }
  function tip(f, spec){
    var p = f.properties || {}, parts = [];
    spec.tip.forEach(function(k){ if (p[k] !== null && p[k] !== undefined && p[k] !== '') {
      parts.push(esc(p[k])); } });
    return esc(spec.label) + (parts.length ? '：' + parts.join(' · ') : '');
  }
  function style(spec){
    return function(f){
      var s = Object.assign({}, spec.style);
      if (spec.by && f && f.properties) {
        var c = spec.colors[f.properties[spec.by]];
        if (c) { s.fillColor = c; if (spec.strokeBy) { s.color = c; } }
      }
      return s;
    };
  }
  function layer(data, spec){
    // boundaries are outlines only: not interactive, so clicks reach the layers beneath
    var interactive = spec.interactive !== false;
    var g = L.geoJSON(data, {
      style: style(spec), interactive: interactive,
      pointToLayer: function(f, ll){ return L.circleMarker(ll, Object.assign(
        {radius: 7, interactive: interactive}, style(spec)(f))); },
      onEachFeature: function(f, l){
        if (!interactive) { return; }
        l.bindTooltip(tip(f, spec), {sticky: true});
        l.bindPopup(popup(f, spec), {maxWidth: 420});
      }
    });
    (spec.labels || []).forEach(function(lb){
      var mk = L.marker([lb[0], lb[1]], {interactive: false, keyboard: false,
        icon: L.divIcon({className: 'ecogis-label ecogis-label-' + (spec.labelClass || 'feature'),
                         html: '<span>' + esc(lb[2]) + '</span>', iconSize: null})});
      mk._ecogisMinZoom = spec.labelMinZoom || 0;
      g.addLayer(mk);
    });
    return g;
  }
  function controls(map){
    // attribution without Leaflet's flag icon; a metric scale; a north arrow; zoomed labels
    if (map.attributionControl) {
      map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="Leaflet">Leaflet</a>');
    }
    L.control.scale({metric: true, imperial: false, maxWidth: 150}).addTo(map);
    var north = L.control({position: 'topleft'});
    north.onAdd = function(){
      var d = L.DomUtil.create('div', 'ecogis-north leaflet-bar');
      d.title = '指北针：图上方为正北';
      d.innerHTML = '<svg width="30" height="40" viewBox="0 0 30 40" aria-label="北">' +
        '<polygon points="15,3 23,27 15,21 7,27" fill="#222"/>' +
        '<text x="15" y="38" text-anchor="middle" font-size="11" font-weight="bold">N</text></svg>';
      return d;
    };
    north.addTo(map);
    function labels(){
      var z = map.getZoom();
      map.eachLayer(function(l){
        if (l._ecogisMinZoom !== undefined && l.getElement && l.getElement()) {
          l.getElement().style.display = z >= l._ecogisMinZoom ? '' : 'none'; }
      });
    }
    map.on('zoomend overlayadd layeradd', labels);
    map.whenReady(labels);
  }
  return {layer: layer, controls: controls, esc: esc};
})();
</script>
"""

_CSS = """
<style>
  .folium-map { background: #f7f6f2; }
  .ecogis-title { position: absolute; top: 10px; left: 50%; transform: translateX(-50%);
    z-index: 1000; background: rgba(255,255,255,0.92); padding: 6px 14px; border-radius: 4px;
    box-shadow: 0 1px 4px rgba(0,0,0,0.3); font: bold 18px/1.3 "Noto Sans CJK SC",
    "Microsoft YaHei", "PingFang SC", sans-serif; text-align: center; }
  .ecogis-title .ecogis-badge { display: inline-block; margin-left: 8px; padding: 1px 6px;
    font-size: 12px; color: #fff; background: #c0392b; border-radius: 3px; vertical-align: middle; }
  .ecogis-legend summary { cursor: pointer; font-weight: bold; font-size: 13px; }
  .ecogis-legend:not([open]) { padding: 4px 10px; }
  .ecogis-north { background: rgba(255,255,255,0.9); padding: 2px; line-height: 0; }
  .ecogis-label { background: none; border: none; white-space: nowrap; pointer-events: none; }
  .ecogis-label span { position: relative; left: -50%; top: -0.7em; font: 12px/1.2 "Noto Sans CJK SC",
    "Microsoft YaHei", "PingFang SC", sans-serif; color: #333; text-shadow: 0 0 3px #fff,
    0 0 3px #fff, 0 0 2px #fff; }
  .ecogis-label-town span { font-size: 13px; font-weight: bold; color: #444; }
  .ecogis-legend { position: absolute; bottom: 28px; right: 10px; z-index: 1000;
    background: rgba(255,255,255,0.94); padding: 8px 10px; border-radius: 4px; max-width: 320px;
    max-height: 60%; overflow-y: auto; box-shadow: 0 1px 4px rgba(0,0,0,0.3);
    font: 12px/1.5 "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; }
  .ecogis-legend h4 { margin: 0 0 4px 0; font-size: 13px; }
  .ecogis-legend .ecogis-sw { display: inline-block; width: 18px; height: 11px;
    margin-right: 6px; vertical-align: middle; border: 1.5px solid; box-sizing: border-box; }
  .ecogis-legend .ecogis-line { display: inline-block; width: 18px; height: 0;
    margin-right: 6px; vertical-align: middle; border-top: 2px dashed; }
  .ecogis-legend .ecogis-dot { display: inline-block; width: 11px; height: 11px;
    margin: 0 10px 0 3px; vertical-align: middle; border-radius: 50%; border: 1.5px solid #222; }
  .ecogis-note { margin-top: 6px; padding-top: 4px; border-top: 1px solid #ccc; color: #444;
    font-size: 11px; }
  .ecogis-popup table { border-collapse: collapse; margin-top: 4px; }
  .ecogis-popup th { text-align: left; padding: 1px 8px 1px 0; color: #555; font-weight: normal;
    vertical-align: top; white-space: nowrap; }
  .ecogis-popup td { padding: 1px 0; }
  .ecogis-hits { margin: 0; padding-left: 16px; }
  .leaflet-control-layers-overlays label { font-size: 12px; }
</style>
"""


class GeoJsonOverlay(Layer):
    """A toggleable GeoJSON overlay drawn by plain Leaflet (no jQuery), styled per ``spec``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = ecogis.layer({{ this.data }}, {{ this.spec }});
        {% endmacro %}
        """
    )

    def __init__(self, data: str, spec: dict, *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoJsonOverlay"
        self.data = data
        self.spec = _script_safe(json.dumps(spec, ensure_ascii=False, separators=(",", ":")))

    def render(self, **kwargs):
        """Add the layer's script as plain text: branca would compile the rendered script (with
        megabytes of GeoJSON) as a Jinja template once more, which takes seconds."""
        from folium.map import ElementAddToElement

        if self.show:
            self.add_child(ElementAddToElement(element_name=self.get_name(),
                                               element_parent_name=self._parent.get_name()),
                           name=self.get_name() + "_add")
        self.get_root().script.add_child(
            _RawScript(f"var {self.get_name()} = ecogis.layer({self.data}, {self.spec});"),
            name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


class _RawScript(Element):
    """Script text added to the page as is (no template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs) -> str:
        return self._text


class _Controls(MacroElement):
    """Attribution prefix without the flag, metric scale, north arrow, label zooms (JS)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        ecogis.controls({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "EcogisControls"


class _Helpers(MacroElement):
    """Adds the ecogis CSS and JS helpers to the page header once."""

    def render(self, **kwargs):
        figure = self.get_root()
        figure.header.add_child(Element(_CSS), name="ecogis_css")
        figure.header.add_child(Element(_JS_HELPERS), name="ecogis_js")
        super().render(**kwargs)


def _swatch(style: dict, kind_geom: str = "polygon") -> str:
    color = style.get("color", "#999")
    fill = style.get("fillColor", color)
    if not style.get("fill", True) or kind_geom == "line":
        dash = "dashed" if style.get("dashArray") else "solid"
        return (f'<span class="ecogis-line" style="border-top-color:{color};'
                f'border-top-style:{dash};border-top-width:{min(3, style.get("weight", 2))}px">'
                "</span>")
    op = style.get("fillOpacity", 0.3)
    return (f'<span class="ecogis-sw" style="border-color:{color};background:'
            f'{_rgba(fill, op)}"></span>')


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    try:
        r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        return hex_color
    return f"rgba({r},{g},{b},{alpha:g})"


# --------------------------------------------------------------------------- inputs


def _as_layers(layers: Sequence[MapLayer | tuple]) -> list[MapLayer]:
    out = []
    for item in layers:
        if isinstance(item, MapLayer):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 3:
            out.append(MapLayer(str(item[0]), str(item[1]), item[2]))
        else:
            raise MapInputError(f"cannot draw {type(item).__name__} as a layer",
                                fix="pass MapLayer(name, kind, gdf) or (name, kind, gdf)")
    return out


def _hit_text(hit: Any, public: bool, kinds: KindRegistry) -> str:
    if not isinstance(hit, Mapping):
        return str(hit)
    kid = hit.get("kind")
    kind = kinds.kinds.get(str(kid)) if kid is not None else None
    parts = []
    head = kind.name_zh if kind else str(hit.get("layer") or kid or "")
    name = hit.get("name") or hit.get("feature_name")
    if name and (not public or (kind is not None and "name" in kind.public)):
        head += f" {name}"
    if not public and hit.get("layer") and kind is not None:
        head += f" [{hit['layer']}]"
    if head:
        parts.append(head)
    verdict = hit.get("verdict")
    if verdict:
        parts.append(VERDICTS.get(str(verdict), (str(verdict), ""))[0])
    for key in ("rule", "message", "reason"):
        if hit.get(key):
            parts.append(str(hit[key]))
            break
    ov = hit.get("overlap_m2")
    if isinstance(ov, (int, float)) and ov > 0:
        parts.append(f"重叠 {from_m2(ov, 'ha'):.4g} 公顷 ({from_m2(ov, 'mu'):.4g} 亩)")
    dist = hit.get("distance_m")
    if isinstance(dist, (int, float)) and dist > 0:
        parts.append(f"距离 {dist:.0f} m")
    cite = citation_text(hit.get("citation"))
    if cite:
        parts.append(f"依据 {cite}")
    if not public:
        extra = {k: v for k, v in hit.items()
                 if k not in (*_PUBLIC_HIT_KEYS, "name", "feature_name")
                 and isinstance(v, (str, int, float)) and not isinstance(v, bool)}
        if extra:
            parts.append("，".join(f"{FIELD_LABELS.get(k, k)}：{v}" for k, v in extra.items()))
    return "；".join(parts)


def citation_text(citation: Any) -> str:
    """Return a rule citation as one line of text (``《文件》 第x条 (file L12)``), never a repr.

    Accepts the ``citation`` of a siting hit: a dict (``text``, or ``document`` and
    ``clause``), a string, or nothing.
    """
    if not citation:
        return ""
    if isinstance(citation, Mapping):
        if citation.get("text"):
            return str(citation["text"])
        out = " ".join(str(citation[k]) for k in ("document", "clause") if citation.get(k))
        if citation.get("file"):
            out += f" ({citation['file']}" + (f" L{citation['line']}" if citation.get("line")
                                              else "") + ")"
        if citation.get("verified") is False:
            out += "（条文待核实）"
        return out.strip()
    if isinstance(citation, (list, tuple)):
        return "；".join(citation_text(c) for c in citation if c)
    return str(citation)


def category_name(category: Any) -> str | None:
    """Return the Chinese name of a project category id (``industrial`` → 工业项目)."""
    if category is None:
        return None
    try:
        from ecogis.rules import load_categories

        found = load_categories().find(category)
    except Exception:  # no categories file: show the id
        found = None
    return found.name_zh if found is not None else str(category)


def read_sites(path: str | Path, sites_file: str | Path | None = None) -> gpd.GeoDataFrame:
    """Read sites to draw: a vector file, or a siting check JSON (``{"sites": [...]}``).

    Each site of a check JSON has ``id``, ``category``, ``verdict`` (forbidden / conditional /
    warn / allowed) and ``hits``; its geometry is the site's ``geometry`` GeoJSON member when
    present, else the feature with the same ``id`` in ``sites_file`` (or the JSON's top-level
    ``sites_file`` / ``input`` path). Returns a GeoDataFrame in EPSG:4490 with columns
    ``id, name, category, category_zh, verdict, hits`` (hits a list per site).
    """
    p = Path(path)
    if p.suffix.lower() != ".json":
        gdf = _read_vector(p)
        if "id" not in gdf.columns:
            gdf = gdf.assign(id=[str(i) for i in gdf.index])
        return gdf
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise MapInputError(f"not valid JSON: {exc}", file=str(p),
                            fix="pass the JSON written by `ecogis check --format json`") from None
    if isinstance(doc, Mapping) and doc.get("type") == "FeatureCollection":
        gdf = gpd.GeoDataFrame.from_features(doc["features"], crs=CGCS2000)
        if "id" not in gdf.columns:
            gdf["id"] = [str(i) for i in range(len(gdf))]
        return gdf
    sites = doc.get("sites") if isinstance(doc, Mapping) else None
    if not isinstance(sites, list):
        raise MapInputError("the JSON has no `sites` list", file=str(p),
                            fix="pass the JSON written by `ecogis check --format json`")
    rows, geoms = [], []
    for i, s in enumerate(sites):
        if not isinstance(s, Mapping) or "id" not in s:
            raise MapInputError("a site has no `id`", file=str(p), feature=i,
                                fix="each entry of `sites` needs id, verdict and hits")
        rows.append({
            "id": str(s["id"]), "name": s.get("name"), "category": s.get("category"),
            "category_zh": s.get("category_zh"),
            "verdict": s.get("verdict"), "hits": list(s.get("hits") or []),
        })
        g = s.get("geometry")
        geoms.append(shapely.from_geojson(json.dumps(g)) if g else None)
    df = pd.DataFrame(rows, columns=["id", "name", "category", "category_zh", "verdict", "hits"])
    if all(g is not None for g in geoms):
        return gpd.GeoDataFrame(df, geometry=geoms, crs=doc.get("crs") or CGCS2000)
    src = sites_file or doc.get("sites_file") or doc.get("input")
    if not src:
        missing = [r["id"] for r, g in zip(rows, geoms, strict=True) if g is None]
        raise MapInputError(
            f"sites {missing[:5]} have no geometry in the JSON", file=str(p),
            fix="pass the sites file too (--sites-file FILE), joined on `id`")
    src_path = Path(src)
    if not src_path.is_absolute() and not src_path.exists():
        src_path = p.parent / src_path
    geo = _read_vector(src_path)
    if "id" in geo.columns:
        lookup = dict(zip(geo["id"].astype(str), geo.geometry.values, strict=True))
    else:
        lookup = {str(i): g for i, g in zip(geo.index, geo.geometry.values, strict=True)}
    out = []
    for r, g in zip(rows, geoms, strict=True):
        if g is None:
            g = lookup.get(r["id"])
            if g is None:
                raise MapInputError(f"site {r['id']!r} is not in the sites file",
                                    file=str(src_path), fix="check the ids of the sites file")
        out.append(g)
    return gpd.GeoDataFrame(df, geometry=out, crs=geo.crs if geo.crs else CGCS2000)


def read_diff(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Read a diff GeoPackage's ``lost`` and ``gained`` layers (each may be absent)."""
    import pyogrio

    p = Path(path)
    if not p.exists():
        raise MapInputError("diff file not found", file=str(p), fix="check the path")
    names = {str(n) for n in pyogrio.list_layers(p)[:, 0]}
    out = {k: gpd.read_file(p, layer=k) for k in DIFF_STYLES if k in names}
    if not out:
        raise MapInputError(f"no `lost` or `gained` layer (has {sorted(names)})", file=str(p),
                            fix="pass the GeoPackage written by `ecogis diff`")
    return out


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    from ecogis.io import read_vector

    return read_vector(path, kind="site")[0]


# --------------------------------------------------------------------------- layer preparation


@dataclass
class _Prepared:
    layer: MapLayer
    kind: Kind
    lonlat: gpd.GeoDataFrame  # display features before simplification (maybe dissolved)
    props: list[dict]
    fields: list[str]
    dissolved_by: str | None
    features_in: int
    vertices_in: int
    coverage: bool
    tolerance: float
    auto: bool
    geoms: np.ndarray | None = None
    method: str = "none"
    decimals: int = 6
    repaired: int = 0
    dropped: int = 0
    cache: dict = field(default_factory=dict)


def _prepare(layer: MapLayer, kind: Kind, *, public: bool, dissolve_above: int) -> _Prepared:
    lonlat = _to_lonlat(layer.gdf, layer.name)
    n_in = len(lonlat)
    v_in = int(shapely.get_num_coordinates(lonlat.geometry.values).sum())
    fields = _fields_for(kind, lonlat.columns, public)
    dissolve = layer.dissolve
    if dissolve is None:
        dissolve = kind.coverage and kind.id != "admin" and n_in > dissolve_above
    dissolved_by = None
    if dissolve:
        allowed = public_fields(kind) if public else kind.fields
        limit = max(1, min(MAX_DISSOLVE_GROUPS, n_in // 10))
        group = next((f for f in _GROUP_FIELDS if f in allowed and f in lonlat.columns
                      and lonlat[f].nunique() <= limit), None)
        geoms = lonlat.geometry.values
        if group is not None:
            keys = lonlat[group].astype(object).where(lonlat[group].notna(), "—").astype(str)
            order = sorted(set(keys))
        else:
            keys = pd.Series(["—"] * n_in, index=lonlat.index)
            order = ["—"]
        union = shapely.coverage_union_all if kind.coverage else shapely.union_all
        merged, counts = [], []
        valid = kind.coverage and bool(shapely.coverage_is_valid(geoms))
        for key in order:
            sel = geoms[(keys == key).to_numpy()]
            merged.append(union(sel) if valid else shapely.union_all(sel))
            counts.append(len(sel))
        data = {"parcels": counts}
        if group is not None:
            data[group] = order
        lonlat = gpd.GeoDataFrame(data, geometry=merged, crs=CGCS2000)
        fields = ([group] if group else []) + ([] if public else ["parcels"])
        dissolved_by = group or "all"
    props_df = pd.DataFrame({f: lonlat[f].to_numpy() for f in fields})
    is_poly = np.isin(shapely.get_type_id(lonlat.geometry.values), (3, 6))
    if is_poly.any() and not public:  # a public map carries only kind, zone and name
        area = geodesic_area_m2(lonlat.geometry.values)
        for k, v in _area_props(area).items():
            props_df[k] = np.where(is_poly, v, np.nan)
    is_line = np.isin(shapely.get_type_id(lonlat.geometry.values), (1, 5))
    if is_line.any() and not public:
        length = geodesic_length(lonlat.geometry.values, crs=CGCS2000)
        props_df["length_km"] = np.where(is_line, np.round(length / 1000.0, 3), np.nan)
    props = _records(props_df) if len(props_df.columns) else [{} for _ in range(len(lonlat))]
    auto = layer.simplify_m is None
    tol = DEFAULT_TOLERANCE_M if auto else float(layer.simplify_m)
    return _Prepared(layer, kind, lonlat, props, list(props_df.columns), dissolved_by, n_in,
                     v_in, kind.coverage, tol, auto)


def _simplify(p: _Prepared, generalise_m: float | None, metric,
              grid_deg: float | None = None) -> None:
    r = simplify_for_display(p.lonlat.geometry.values, p.tolerance, coverage=p.coverage,
                             generalise_m=generalise_m, grid_deg=grid_deg, metric=metric,
                             cache=p.cache)
    p.geoms, p.method, p.decimals, p.repaired, p.dropped = (
        r.geoms, r.method, r.decimals, r.repaired, r.dropped)


def _vertices(p: _Prepared) -> int:
    return int(shapely.get_num_coordinates(p.geoms).sum()) if p.geoms is not None else 0


def _style(kind: Kind, n_features: int, lines_only: bool = False) -> dict:
    """Return the Leaflet path style of a layer (:func:`ecogis.styles.path_style`)."""
    return path_style(kind, n_features, lines_only)


def _value_colors(kind: Kind, fields: Sequence[str]) -> tuple[str | None, dict[str, str]]:
    """Return the field whose values shade a layer and ``{value: colour}`` (ecogis.styles)."""
    return value_colors(kind, fields)


def _labels(layers: list[MapLayer], kinds: KindRegistry, public: bool) -> list[str]:
    out, seen = [], {}
    for lyr in layers:
        kind = kinds[lyr.kind]
        if lyr.label:
            out.append(lyr.label)
            continue
        base = kind.name_zh
        if kind.id == "admin":
            base = "行政区界" if len(lyr.gdf) <= 1 else "乡镇界"
        if public:
            seen[base] = seen.get(base, 0) + 1
            n = seen[base]
            out.append(base if n == 1 else f"{base} {n}")
        else:
            out.append(f"{base} ({lyr.name})")
    return out


# --------------------------------------------------------------------------- the map


def make_map(
    layers: Sequence[MapLayer | tuple[str, str, gpd.GeoDataFrame]],
    *,
    title: str,
    synthetic: bool = False,
    public: bool = False,
    basemap: str = "none",
    tianditu_key: str | None = None,
    sites: gpd.GeoDataFrame | None = None,
    diff: Mapping[str, gpd.GeoDataFrame] | None = None,
    generalise_m: float | None = None,
    source: str | None = None,
    max_vertices: int = MAX_VERTICES,
    dissolve_above: int = DISSOLVE_ABOVE,
    renderer: str = "auto",
    kinds: KindRegistry | None = None,
    map_number: str | None = None,
    include_nonpublic: bool = False,
) -> folium.Map:
    """Return a folium map of ``layers`` (and siting ``sites``, a ``diff``) ready for :func:`save_map`.

    Parameters
    ----------
    layers
        :class:`MapLayer` objects or ``(name, kind, GeoDataFrame)`` tuples, in any CRS.
    title
        Map title (shown at the top and as the page title).
    synthetic
        True when any data is synthetic: the map says "示意数据 (synthetic)". A layer's own
        ``MapLayer.synthetic`` also sets it.
    public
        A map fit to publish (``[publication]`` of kinds.toml): every geometry simplified by
        at least 50 m and every vertex snapped to a 0.0005° grid; only kind, zone and name
        kept (where the kind lists them public); layers of non-public kinds (sites under
        review) refused unless ``include_nonpublic``; the 示意图 / 审图号 statement shown.
    basemap
        ``none`` (default, offline), ``osm`` or ``tianditu`` (needs ``tianditu_key``). ``amap``
        is refused: its tiles are GCJ-02 and the overlays are not shifted.
    sites
        Sites with ``id``, ``category``, ``verdict`` and ``hits`` columns (:func:`read_sites`).
    diff
        ``{"lost": gdf, "gained": gdf}`` (:func:`read_diff`); either key may be missing.
    generalise_m
        Snap display coordinates to a grid of this many metres (public maps).
    source
        Data-source text for the note (e.g. the workspace file name).
    max_vertices
        Vertex budget of the map; automatic tolerances are raised until it fits.
    dissolve_above
        Coverage layers with more features are dissolved for display (by town when present).
    renderer
        ``svg``, ``canvas`` or ``auto`` (canvas above :data:`CANVAS_ABOVE` drawn features).
    map_number
        审图号 of a public map (printed with the 示意图 statement).
    include_nonpublic
        Let a public map carry layers (and sites) of kinds listed as ``nonpublic``.

    Returns
    -------
    folium.Map
        With ``m.ecogis`` a :class:`MapInfo` of what was drawn (features, vertices, tolerances).
    """
    kinds = kinds or load_kinds()
    items = _as_layers(layers)
    if basemap not in BASEMAPS:
        raise MapInputError(f"unknown basemap {basemap!r}", fix=f"use one of {', '.join(BASEMAPS)}")
    if basemap == "amap":
        raise MapInputError(
            "高德 (Amap) tiles are in GCJ-02, which is shifted by up to several hundred metres "
            "from CGCS2000/WGS84; ecogis does not warp overlays to GCJ-02",
            fix="use --basemap tianditu (CGCS2000, no offset; needs a key), osm, or none")
    if basemap == "tianditu" and not tianditu_key:
        raise MapInputError("the 天地图 basemap needs an API key",
                            fix="pass --tianditu-key KEY (or set ECOGIS_TIANDITU_KEY)")
    if generalise_m is not None and generalise_m <= 0:
        raise MapInputError(f"generalisation must be positive metres, got {generalise_m}",
                            fix="pass --generalise-m 10 or similar")
    for lyr in items:
        kinds[lyr.kind]  # raises KindError naming the kind
    synthetic = synthetic or any(lyr.synthetic for lyr in items)
    pub = publication()
    grid_deg = pub.grid_deg if public else None
    if public and not include_nonpublic:
        shut = [(lyr.name, kinds[lyr.kind]) for lyr in items if lyr.kind in pub.nonpublic]
        if sites is not None and len(sites) and "site" in pub.nonpublic:
            shut.append(("sites", kinds["site"]))
        if shut:
            name, k = shut[0]
            raise MapInputError(
                f"layer {name!r} is {k.name_zh} ({k.id}), a kind kinds.toml marks non-public "
                "([publication] nonpublic): a public map does not carry it",
                fix="leave it out (--layers without it, no --sites), or pass "
                    "--include-nonpublic when it has been cleared for publication")

    # draw order: coverage fills at the bottom, other polygons, then admin boundaries on top
    def rank(lyr: MapLayer) -> int:
        k = kinds[lyr.kind]
        return 2 if k.id == "admin" else 0 if k.coverage else 1
    items = sorted(items, key=rank)
    labels = _labels(items, kinds, public)

    prepared = [_prepare(lyr, kinds[lyr.kind], public=public, dissolve_above=dissolve_above)
                for lyr in items]
    extra: list[tuple[str, gpd.GeoDataFrame]] = []
    if diff:
        for key in DIFF_STYLES:
            if key in diff and diff[key] is not None and len(diff[key]):
                extra.append((key, _to_lonlat(diff[key], key)))
    site_ll = _to_lonlat(sites, "sites") if sites is not None and len(sites) else None

    bounds = _bounds([p.lonlat for p in prepared] + [g for _, g in extra]
                     + ([site_ll] if site_ll is not None else []))
    if bounds is None:
        raise MapInputError("nothing to draw: every layer is empty",
                            fix="pass at least one layer, site or diff with features")
    metric = metric_crs(bounds)

    for p in prepared:
        if public:
            p.tolerance = max(p.tolerance, pub.min_tolerance_m)
        _simplify(p, generalise_m, metric, grid_deg)
    total = sum(_vertices(p) for p in prepared)
    while total > max_vertices:
        # a ring keeps at least 4 coordinates: a layer near 5 per feature cannot shrink more
        cands = [p for p in prepared if p.auto and p.tolerance < MAX_AUTO_TOLERANCE_M
                 and p.kind.geometry != "point" and _vertices(p) > 5 * len(p.geoms)]
        if not cands:
            break
        big = max(cands, key=_vertices)
        big.tolerance *= 2
        before = _vertices(big)
        _simplify(big, generalise_m, metric, grid_deg)
        total += _vertices(big) - before

    n_drawn = sum(len(p.geoms) for p in prepared) + sum(len(g) for _, g in extra) + (
        len(site_ll) if site_ll is not None else 0)
    if renderer == "auto":
        renderer = "canvas" if n_drawn > CANVAS_ABOVE else "svg"
    if renderer not in ("svg", "canvas"):
        raise MapInputError(f"unknown renderer {renderer!r}", fix="use svg, canvas or auto")

    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=renderer == "canvas",
                   zoom_snap=0.25)
    m.default_js = list(offline.OFFLINE_JS)
    m.default_css = list(offline.OFFLINE_CSS)
    m.get_root().title = html_mod.escape(title)  # branca does not escape it
    _Helpers().add_to(m)
    _add_basemap(m, basemap, tianditu_key)

    info = MapInfo(title=title, public=public, synthetic=synthetic, basemap=basemap,
                   renderer=renderer, map_number=map_number if public else None,
                   grid_deg=grid_deg)
    legend: list[str] = []
    for i, (p, label) in enumerate(zip(prepared, labels, strict=True)):
        types = shapely.get_type_id(p.geoms[~shapely.is_missing(p.geoms)])
        style = _style(p.kind, len(p.geoms), lines_only=bool(len(types)) and bool(
            np.isin(types, (1, 2, 5)).all()))
        style["className"] = f"ecogis-layer-{i}"
        keep = ~(shapely.is_empty(p.geoms) | shapely.is_missing(p.geoms))
        geoms = p.geoms[keep]
        props = [pr for pr, k in zip(p.props, keep, strict=True) if k]
        spec = {"label": label, "style": style,
                "fields": [[f, _field_label(f)] for f in p.fields],
                "tip": [f for f in p.fields if f in ("name", "zone", "level", "town", "category",
                                                     "type", "parcels")][:2]}
        if p.kind.id == "admin":
            spec["interactive"] = False
        spec.update(_label_spec(p, geoms, props, grid_deg))
        by, colors = _value_colors(p.kind, p.fields)
        present = {pr.get(by) for pr in props} if by else set()
        colors = {v: c for v, c in colors.items() if v in present}
        if colors:
            spec.update(by=by, colors=colors)
        data = _feature_collection(geoms, props)
        sw = _swatch(style, p.kind.geometry)
        GeoJsonOverlay(data, spec, name=f"{sw}{html_mod.escape(label)}",
                       show=p.layer.show).add_to(m)
        legend.append(f"<div>{sw}{html_mod.escape(label)}</div>")
        for v, c in colors.items():
            legend.append('<div style="padding-left:14px">'
                          + _swatch({**style, "fillColor": c}) + html_mod.escape(v) + "</div>")
        info.layers.append(LayerStats(
            name=p.layer.name, kind=p.kind.id, label=label, features_in=p.features_in,
            features_out=int(len(geoms)), vertices_in=p.vertices_in,
            vertices_out=int(shapely.get_num_coordinates(geoms).sum()),
            tolerance_m=max(p.tolerance, generalise_m or 0.0), method=p.method, decimals=p.decimals,
            dissolved_by=p.dissolved_by, fields=tuple(p.fields), repaired=p.repaired,
            dropped=p.dropped))
        if p.repaired or p.dropped:
            info.notes.append(f"{label}：显示几何修复 {p.repaired} 个要素（无效环/自重叠），"
                              f"{p.dropped} 个要素简化后过小未显示")
        if p.dissolved_by:
            by = "按" + FIELD_LABELS.get(p.dissolved_by, p.dissolved_by) + "合并" \
                if p.dissolved_by != "all" else "合并"
            info.notes.append(f"{label}：{p.features_in:,} 个图斑{by}显示为 {len(geoms)} 个面"
                              f"（面积按合并后计）")

    for key, gdf in extra:
        zh, color = DIFF_STYLES[key]
        i = len(info.layers)
        style = {"color": color, "weight": 1.5, "fillColor": color, "fillOpacity": 0.6,
                 "className": f"ecogis-layer-{i}"}
        geoms, method, dec = display_geometry(
            gdf.geometry.values, max(DEFAULT_TOLERANCE_M, pub.min_tolerance_m if public else 0),
            generalise_m=generalise_m, grid_deg=grid_deg, metric=metric)
        fields, props = _diff_props(gdf, kinds, public)
        spec = {"label": f"变化：{zh}", "style": style,
                "fields": [[f, _field_label(f)] for f in fields], "tip": fields[:2]}
        sw = _swatch(style)
        GeoJsonOverlay(_feature_collection(geoms, props), spec,
                       name=f"{sw}{html_mod.escape(spec['label'])}").add_to(m)
        legend.append(f"<div>{sw}{html_mod.escape(spec['label'])}</div>")
        info.layers.append(LayerStats(
            name=key, kind="diff", label=spec["label"], features_in=len(gdf),
            features_out=len(geoms), vertices_in=int(shapely.get_num_coordinates(
                gdf.geometry.values).sum()),
            vertices_out=int(shapely.get_num_coordinates(geoms).sum()),
            tolerance_m=max(DEFAULT_TOLERANCE_M, generalise_m or 0.0), method=method,
            decimals=dec, fields=tuple(fields)))

    if site_ll is not None:
        _add_sites(m, site_ll, kinds, public, generalise_m, metric, info, legend, grid_deg)

    # notes and legend
    notes = list(info.notes)
    if synthetic:
        notes.insert(0, "示意数据 (synthetic)：图层为合成数据，不代表实际规划")
    src = "数据来源：" + (html_mod.escape(source) if source and not public else
                          "ecogis 工作空间" if not public else "规划成果（公开版）")
    notes.append(src)
    notes.append("坐标系 CGCS2000 (EPSG:4490)；面积为 CGCS2000 椭球面积；"
                 f"显示几何已简化（容差 {_tol_text(info.layers)}）")
    if public:
        notes.append(f"公开版：仅保留图层类型、分区与名称；几何概化（简化 ≥ {pub.min_tolerance_m:g} m，"
                     f"坐标取整至 {pub.grid_deg:g}° 网格，约 50 m）" + (
                         f"；另概化至 {generalise_m:g} m 网格" if generalise_m else ""))
        notes.insert(0, _statement(pub, map_number))
    elif generalise_m:
        notes.append(f"坐标已概化至 {generalise_m:g} m 网格")
    notes.append(_basemap_note(basemap))
    info.notes = notes

    badge = '<span class="ecogis-badge">示意数据 (synthetic)</span>' if synthetic else ""
    pub_badge = ('<span class="ecogis-badge" style="background:#2c7fb8">'
                 + html_mod.escape(_statement(pub, map_number)) + "</span>") if public else ""
    root = m.get_root()
    root.html.add_child(Element(
        f'<div class="ecogis-title">{html_mod.escape(title)}{badge}{pub_badge}</div>'),
        name="ecogis_title")
    root.html.add_child(Element(
        '<details class="ecogis-legend" open><summary>图例</summary>' + "".join(legend)
        + '<div class="ecogis-note">' + "<br>".join(notes) + "</div></details>"),
        name="ecogis_legend")
    # the layer list folds into Leaflet's layers button (the legend names every layer): an
    # expanded list would cover the legend's fold control
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    _Controls().add_to(m)
    # keep the data clear of the title (top) and of the legend and layer list (right)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding_top_left=(20, 60),
                 padding_bottom_right=(340, 20))
    m.ecogis = info  # type: ignore[attr-defined]
    return m


#: zoom from which labels show: town names, and names of other named features
TOWN_LABEL_ZOOM = 9
FEATURE_LABEL_ZOOM = 12
#: a layer with more named features than this gets no labels (parcels)
MAX_LABELS = 300


def _label_spec(p: _Prepared, geoms: np.ndarray, props: list[dict],
                grid_deg: float | None) -> dict:
    """Return ``labels`` ([lat, lon, text] per named feature) and their zoom for a layer."""
    names = [pr.get("name") for pr in props]
    have = [i for i, n in enumerate(names) if isinstance(n, str) and n.strip()]
    if not have or len(have) > MAX_LABELS:
        return {}
    town = p.kind.id == "admin"
    if town and len(geoms) <= 1:
        return {}  # the region: its name is the title
    sel = geoms[have]
    lines = np.isin(shapely.get_type_id(sel), (1, 5))
    pts = shapely.point_on_surface(sel)
    if lines.any():
        pts[lines] = shapely.line_interpolate_point(sel[lines], 0.5, normalized=True)
    xy = shapely.get_coordinates(pts)
    xy = np.round(xy / grid_deg) * grid_deg if grid_deg else np.round(xy, 5)
    dec = grid_decimals(grid_deg) if grid_deg else 5
    labels = [[round(float(y), dec), round(float(x), dec), str(names[i])]
              for (x, y), i in zip(xy, have, strict=True)]
    return {"labels": labels, "labelClass": "town" if town else "feature",
            "labelMinZoom": TOWN_LABEL_ZOOM if town else FEATURE_LABEL_ZOOM}


def _statement(pub: Publication, map_number: str | None) -> str:
    """``示意图 · 审图号：GS(2024)1234号`` (or ``示意图 · 无审图号``)."""
    number = (map_number or "").strip()
    return f"{pub.statement} · 审图号：{number}" if number else f"{pub.statement} · 无审图号"


def _tol_text(stats: list[LayerStats]) -> str:
    tols = sorted({s.tolerance_m for s in stats})
    return "、".join(f"{t:g}" for t in tols) + " m" if tols else "—"


def _basemap_note(basemap: str) -> str:
    return {
        "none": "无底图（离线）",
        "osm": "底图 © OpenStreetMap 贡献者（需联网）",
        "tianditu": "底图 天地图（CGCS2000，需联网及密钥）",
    }[basemap]


def _bounds(frames: list[gpd.GeoDataFrame]) -> tuple[float, float, float, float] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    boxes = [b for b in boxes if np.isfinite(b).all()]
    if not boxes:
        return None
    arr = np.array(boxes)
    return (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()),
            float(arr[:, 3].max()))


def _diff_props(gdf: gpd.GeoDataFrame, kinds: KindRegistry,
                public: bool) -> tuple[list[str], list[dict]]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    area = None if public else geodesic_area_m2(gdf.geometry.values)
    recs = []
    for i, row in enumerate(gdf[cols].to_dict("records")):
        kind = kinds.kinds.get(str(row.get("kind"))) if "kind" in row else None
        if public:  # kind, zone and name only
            keep = {"kind": kind.name_zh} if kind else {}
            if kind is not None:
                keep.update({f: row[f] for f in public_fields(kind) if f in row})
        else:
            keep = {k: v for k, v in row.items()
                    if isinstance(v, (str, int, float, np.integer, np.floating))}
            if kind is not None:
                keep["kind"] = kind.name_zh
        if area is not None:
            keep["area_km2"] = round(float(from_m2(area[i], "km2")), 4)
            keep["area_mu"] = round(float(from_m2(area[i], "mu")), 1)
        recs.append({k: _clean(v) for k, v in keep.items() if _clean(v) is not None})
    fields: list[str] = []
    for r in recs:
        for k in r:
            if k not in fields:
                fields.append(k)
    return fields, recs


def _add_sites(m, sites: gpd.GeoDataFrame, kinds: KindRegistry, public: bool,
               generalise_m: float | None, metric, info: MapInfo, legend: list[str],
               grid_deg: float | None = None) -> None:
    site_kind = kinds.kinds.get("site")
    allowed = set(public_fields(site_kind) if public and site_kind
                  else ("id", "name", "category"))
    if not public and site_kind:
        allowed |= set(site_kind.fields)
    fields = [f for f in ("id", "name", "category") if f in allowed and f in sites.columns]
    has_verdict = "verdict" in sites.columns
    props = []
    for row in sites.to_dict("records"):
        p = {f: _clean(row.get(f)) for f in fields}
        if p.get("category") is not None:
            p["category"] = row.get("category_zh") or category_name(p["category"])
        if has_verdict:
            v = row.get("verdict")
            p["verdict"] = VERDICTS.get(str(v), (str(v), ""))[0] if v is not None else None
            p["_v"] = str(v) if v is not None else None
            hits = row.get("hits")
            if isinstance(hits, (list, tuple, np.ndarray)):
                p["hits"] = [_hit_text(h, public, kinds) for h in hits]
        props.append({k: v for k, v in p.items() if v is not None})
    geoms, method, dec = display_geometry(sites.geometry.values, 0.5,
                                          generalise_m=generalise_m, grid_deg=grid_deg,
                                          metric=metric)
    i = len(info.layers)
    style = {"color": "#222222", "weight": 2.5, "fillColor": "#000000", "fillOpacity": 0.75,
             "className": f"ecogis-layer-{i}"}
    shown = fields + (["verdict", "hits"] if has_verdict else [])
    spec = {"label": "建设项目选址", "style": style, "by": "_v",
            "colors": {k: c for k, (_, c) in VERDICTS.items()},
            "fields": [[f, _field_label(f, "命中规则" if f == "hits" else f)]
                       for f in shown],
            "tip": [f for f in ("id", "name", "verdict") if f in shown]}
    GeoJsonOverlay(_feature_collection(geoms, props), spec,
                   name='<span class="ecogis-dot" style="background:#e31a1c"></span>'
                        "建设项目选址").add_to(m)
    if has_verdict:
        legend.append("<div><b>选址结论</b></div>")
        for _k, (zh, c) in VERDICTS.items():
            legend.append(f'<div><span class="ecogis-dot" style="background:{c}"></span>{zh}</div>')
    else:
        legend.append('<div><span class="ecogis-dot" style="background:#000"></span>'
                      "建设项目选址</div>")
    info.layers.append(LayerStats(
        name="sites", kind="site", label="建设项目选址", features_in=len(sites),
        features_out=len(geoms),
        vertices_in=int(shapely.get_num_coordinates(sites.geometry.values).sum()),
        vertices_out=int(shapely.get_num_coordinates(geoms).sum()),
        tolerance_m=max(0.5, generalise_m or 0.0),
        method=method, decimals=dec, fields=tuple(shown)))


def _add_basemap(m: folium.Map, basemap: str, key: str | None) -> None:
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap 底图", overlay=False,
                         control=True).add_to(m)
    elif basemap == "tianditu":
        url = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
               "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
               "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=" + str(key))
        attr = "© 天地图 (国家地理信息公共服务平台)"
        folium.TileLayer(url.replace("{layer}", "vec"), attr=attr, name="天地图 矢量底图",
                         subdomains="01234567", overlay=False, max_zoom=18).add_to(m)
        folium.TileLayer(url.replace("{layer}", "cva"), attr=attr, name="天地图 注记",
                         subdomains="01234567", overlay=True, max_zoom=18).add_to(m)


# --------------------------------------------------------------------------- saving


def render_html(m: folium.Map) -> str:
    """Return the map's complete HTML with every asset inlined (see :mod:`ecogis.offline`)."""
    return offline.inline_assets(m.get_root().render())


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write ``m`` to ``path`` as one offline HTML file, atomically; return the path.

    The file is written to a temporary file beside ``path`` and renamed over it, so a reader
    never sees half a map.
    """
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise MapInputError(f"map output must be an .html file, got {out.name!r}",
                            fix="pass -o maps/NAME.html")
    html = render_html(m)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


__all__ = [
    "BASEMAPS", "DEFAULT_TOLERANCE_M", "MAX_VERTICES", "LayerStats", "MapInfo",
    "MapInputError", "MapLayer", "VERDICTS", "decimals_for", "display_geometry", "geodesic_area_m2", "make_map",
    "read_diff", "read_sites", "render_html", "save_map",
]
