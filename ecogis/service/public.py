"""What anonymous callers get: the public map, public layer geometry, the offline API page.

Both public outputs go through :mod:`ecogis.maps` exactly as ``ecogis map --public`` does,
under the ``[publication]`` policy of layers/kinds.toml: only the attributes each kind lists
as public (plus computed areas), geometry in lon/lat (EPSG:4490) simplified by at least
``min_tolerance_m`` and snapped to the ``grid_deg`` grid; kinds listed as ``nonpublic``
(project sites under review) are left out of the map and refused as layers.
"""

from __future__ import annotations

import html
import json


def _map_layers(ws, names=None):
    from ecogis.maps import MapLayer, publication

    shut = set(publication().nonpublic)
    out = []
    for info in ws.layers():
        if names is not None and info.name not in names:
            continue
        if (info.kind or "generic") in shut:
            continue
        out.append(MapLayer(info.name, info.kind or "generic", ws.read(info.name),
                            synthetic=bool(info.synthetic)))
    return out


def public_map_html(ws) -> str:
    """Return the public map of every layer (one offline HTML page)."""
    from ecogis.maps import make_map, render_html

    meta = ws.meta
    region = meta.get("region")
    synthetic = str(meta.get("synthetic", False)).strip().lower() in ("1", "true", "yes", "on")
    m = make_map(_map_layers(ws), title=f"{region} 国土空间控制线" if region else "国土空间控制线",
                 synthetic=synthetic, public=True)
    return render_html(m)


def public_layer_geojson(ws, name: str) -> str:
    """Return one layer as a GeoJSON FeatureCollection prepared as the public map draws it."""
    from ecogis import maps
    from ecogis.crs import metric_crs
    from ecogis.errors import InputError
    from ecogis.kinds import load_kinds

    ws._require(name)
    found = _map_layers(ws, [name])
    if not found:
        raise InputError(f"layer {name!r} is of a kind that is not public",
                         fix="ask for a public layer (see /public/map)")
    layer = found[0]
    pub = maps.publication()
    kind = load_kinds()[layer.kind]
    p = maps._prepare(layer, kind, public=True, dissolve_above=maps.DISSOLVE_ABOVE)
    p.tolerance = max(p.tolerance, pub.min_tolerance_m)
    metric = metric_crs(p.lonlat.total_bounds) if len(p.lonlat) else None
    maps._simplify(p, None, metric, pub.grid_deg)
    return maps._feature_collection(p.geoms, p.props)


def docs_html(schema: dict) -> str:
    """Return an offline page describing the API from its OpenAPI ``schema`` (no CDN assets)."""
    rows = []
    for path, ops in schema.get("paths", {}).items():
        for method, op in ops.items():
            params = ", ".join(f"<code>{html.escape(p['name'])}</code>"
                               for p in op.get("parameters", []))
            body = ", ".join(op.get("requestBody", {}).get("content", {}))
            desc = html.escape(op.get("description") or "").replace("\n\n", "<br><br>")
            rows.append(f"<section><h3><span class=m>{method.upper()}</span> "
                        f"<code>{html.escape(path)}</code> — {html.escape(op.get('summary', ''))}"
                        f"</h3><p>{desc}</p>"
                        + (f"<p>parameters: {params}</p>" if params else "")
                        + (f"<p>body: <code>{html.escape(body)}</code></p>" if body else "")
                        + "</section>")
    info = schema.get("info", {})
    return ("<!doctype html><html lang=zh><head><meta charset=utf-8>"
            f"<title>{html.escape(info.get('title', 'API'))}</title><style>"
            "body{font-family:'Noto Sans CJK SC',sans-serif;max-width:60em;margin:2em auto;"
            "line-height:1.5}.m{background:#2c7fb8;color:#fff;padding:0 .4em;border-radius:3px}"
            "section{border-top:1px solid #ddd}</style></head><body>"
            f"<h1>{html.escape(info.get('title', 'API'))} {html.escape(info.get('version', ''))}"
            f"</h1><p>{html.escape(info.get('description', ''))}</p>"
            "<p>Machine-readable schema: <a href=/openapi.json>/openapi.json</a>. This page is "
            "served offline (no CDN).</p>" + "".join(rows)
            + "<script type=application/json id=openapi>"
            + json.dumps(schema, ensure_ascii=False).replace("</", "<\\/")
            + "</script></body></html>")
