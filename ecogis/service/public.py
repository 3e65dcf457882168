"""What anonymous callers get: the public map, public layer geometry, the offline API page.

Both public outputs go through :mod:`ecogis.maps` exactly as ``ecogis map --public`` does:
only the attributes each kind lists as ``public`` in layers/kinds.toml (plus computed areas),
geometry in lon/lat (EPSG:4490) simplified for display and snapped to a grid of
:data:`PUBLIC_GRID_M` metres.
"""

from __future__ import annotations

import html
import json

#: public geometry is snapped to a grid of this many metres (``map --public --generalise-m``)
PUBLIC_GRID_M = 10.0


def _map_layers(ws, names=None):
    from ecogis.maps import MapLayer

    out = []
    for info in ws.layers():
        if names is not None and info.name not in names:
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
                 synthetic=synthetic, public=True, generalise_m=PUBLIC_GRID_M)
    return render_html(m)


def public_layer_geojson(ws, name: str) -> str:
    """Return one layer as a GeoJSON FeatureCollection prepared as the public map draws it."""
    from ecogis import maps
    from ecogis.kinds import load_kinds

    ws._require(name)
    layer = _map_layers(ws, [name])[0]
    kind = load_kinds()[layer.kind]
    p = maps._prepare(layer, kind, public=True, dissolve_above=maps.DISSOLVE_ABOVE)
    maps._simplify(p, PUBLIC_GRID_M, None)
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
