"""Layer styles from ``layers/kinds.toml``: one source for the HTML map and QGIS (QML).

A kind's ``color`` and ``fill_opacity`` give the fill and outline; a kind with an enumerated
zone-like field (``[kinds.ID.values]``: 自然保护地 zone 核心保护区/一般控制区, 饮用水水源保护区
level 一级/二级, 城镇开发边界 zone ...) is categorised by that field, each value a shade of the
kind's colour (darkest = strictest; a kind with ``groups`` shades by group). ``admin`` layers
are outlines only (one feature = the region, thick dash-dot; several = towns, thin dashes).

:func:`value_colors` and :func:`path_style` feed the Leaflet map (:mod:`ecogis.maps`);
:func:`qml` writes the same colours as a QGIS 3 style document, stored in the workspace's
``layer_styles`` table by :mod:`ecogis.gpkg`. Opacities: fill ``fill_opacity``, outline 0.9.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import quoteattr

from ecogis.kinds import Kind

#: opacity of outlines (map and QGIS)
OUTLINE_OPACITY = 0.9

#: Chinese labels of ecogis field roles (fallback when kinds.toml has no ``[roles]`` table)
FIELD_LABELS: dict[str, str] = {
    "name": "名称", "zone": "分区", "level": "级别", "type": "类型", "town": "乡镇",
    "grade": "等别", "land_code": "地类编码", "land_name": "地类名称", "category": "类别",
    "code": "代码", "setback_m": "退让距离 (m)", "population": "人口", "id": "编号",
    "basin": "流域", "verdict": "结论", "parcels": "图斑数", "area_km2": "面积 (km²)",
    "area_mu": "面积 (亩)", "length_km": "长度 (km)", "layer": "图层", "kind": "类型",
    "src_fid": "源要素号", "year": "年份", "ownership": "权属性质", "names": "名称",
    "bsm": "标识码",
}


def field_label(role: str, registry=None) -> str:
    """Return the Chinese label of a field role (``[roles]`` of kinds.toml, else built in)."""
    roles = getattr(registry, "roles", None) or {}
    return roles.get(role) or FIELD_LABELS.get(role, role)


def shade(hex_color: str, f: float) -> str:
    """Return ``hex_color`` darkened (f < 0) or lightened (f > 0) by the fraction ``|f|``."""
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    try:
        rgb = [int(h[i:i + 2], 16) for i in (0, 2, 4)]
    except ValueError:
        return hex_color
    out = [round(c + (255 - c) * f) if f > 0 else round(c * (1 + f)) for c in rgb]
    return "#" + "".join(f"{max(0, min(255, c)):02x}" for c in out)


def _steps(lo: float, hi: float, n: int) -> list[float]:
    if n <= 1:
        return [0.0] * n
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def value_colors(kind: Kind, fields: Sequence[str] | None = None) -> tuple[str | None, dict[str, str]]:
    """Return the field role whose values shade a layer and ``{value: colour}``.

    A kind with ``groups`` (protected_area: core/general) shades its grouped field by group;
    otherwise a kind's first enumerated field with several values (water_source level, ugb
    zone, env_unit category) is shaded in the order of ``values``. ``fields``, when given,
    limits the choice to fields the layer has. Returns ``(None, {})`` for a plain kind.
    """
    for fld, vals in kind.values.items():
        if fields is not None and fld not in fields:
            continue
        if kind.groups and all(kind.group_of(fld, v) for v in vals):
            order = list(kind.groups)
            shades = dict(zip(order, _steps(-0.35, 0.35, len(order)), strict=True))
            return fld, {v: shade(kind.color, shades[kind.group_of(fld, v)]) for v in vals}
        if len(vals) > 1:
            return fld, {v: shade(kind.color, t)
                         for v, t in zip(vals, _steps(-0.3, 0.4, len(vals)), strict=True)}
    return None, {}


def path_style(kind: Kind, n_features: int, lines_only: bool = False) -> dict:
    """Return the Leaflet path style of a layer; line layers are never filled."""
    if kind.id == "admin":
        region = n_features <= 1
        return {"color": kind.color, "weight": 3.0 if region else 1.2, "fill": False,
                "dashArray": "12 4 2 4" if region else "5 4", "opacity": OUTLINE_OPACITY}
    if kind.geometry == "line" or lines_only:
        return {"color": kind.color, "weight": 2.0, "opacity": OUTLINE_OPACITY, "fill": False}
    return {"color": kind.color, "weight": 1.0, "opacity": OUTLINE_OPACITY,
            "fillColor": kind.color, "fillOpacity": kind.fill_opacity,
            "fill": kind.fill_opacity > 0}


# --------------------------------------------------------------------------- QGIS QML

_QGIS_VERSION = "3.22.16-Białowieża"


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(255 * max(0.0, min(1.0, alpha)))}"


def _props(props: Mapping[str, str]) -> str:
    opts = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>'
                   for k, v in props.items())
    legacy = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return f'<Option type="Map">{opts}</Option>{legacy}'


def _symbol(name: str, geometry: str, style: Mapping) -> str:
    color = style.get("fillColor", style["color"])
    outline = _rgba(style["color"], style.get("opacity", OUTLINE_OPACITY))
    width_mm = f"{0.26 * style.get('weight', 1.0):.2f}"
    dash = style.get("dashArray")
    if geometry == "polygon":
        props = {
            "color": _rgba(color, style.get("fillOpacity", 0.3) if style.get("fill", True)
                           else 0.0),
            "style": "solid" if style.get("fill", True) else "no",
            "outline_color": outline, "outline_style": "dash" if dash else "solid",
            "outline_width": width_mm, "outline_width_unit": "MM", "joinstyle": "round",
        }
        if dash == "12 4 2 4":
            props["outline_style"] = "dash dot"
        cls, typ = "SimpleFill", "fill"
    elif geometry == "line":
        props = {"line_color": outline, "line_style": "dash" if dash else "solid",
                 "line_width": width_mm, "line_width_unit": "MM", "capstyle": "round",
                 "joinstyle": "round"}
        cls, typ = "SimpleLine", "line"
    else:
        props = {"color": _rgba(color, max(0.6, style.get("fillOpacity", 0.6))),
                 "outline_color": outline, "outline_width": "0.4", "outline_width_unit": "MM",
                 "name": "circle", "size": "2.6", "size_unit": "MM"}
        cls, typ = "SimpleMarker", "marker"
    return (f'<symbol type="{typ}" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
            f'force_rhr="0"><data_defined_properties><Option type="Map"><Option type="QString" '
            f'name="name" value=""/><Option name="properties"/><Option type="QString" '
            f'name="type" value="collection"/></Option></data_defined_properties>'
            f'<layer class="{cls}" enabled="1" locked="0" pass="0">{_props(props)}</layer>'
            "</symbol>")


def qgis_geometry(geometry_type: str | None) -> str:
    """Return ``polygon``, ``line`` or ``point`` for an OGR/shapely geometry type name."""
    t = (geometry_type or "").lower()
    if "polygon" in t:
        return "polygon"
    if "line" in t:
        return "line"
    return "point"


def qml(kind: Kind, geometry_type: str | None, columns: Sequence[str], *,
        n_features: int = 2, aliases: Mapping[str, str] | None = None,
        field_map: Mapping[str, str] | None = None, title: str | None = None) -> str:
    """Return a QGIS 3 QML style document for a layer of ``kind``.

    Parameters
    ----------
    kind
        The layer's kind: colour, fill opacity and enumerated zone/level values.
    geometry_type
        The layer's geometry type (``MultiPolygon``, ``MultiLineString``, ``Point`` ...).
    columns
        The layer's attribute columns (categorising needs the zone/level column).
    n_features
        Feature count (an ``admin`` layer of one feature is drawn as the region outline).
    aliases
        ``{column: Chinese alias}`` written in the style's ``<aliases>``.
    field_map
        ``{role: column}`` when the layer keeps its source field names.
    title
        Not drawn; recorded as the style's description comment.
    """
    geom = qgis_geometry(geometry_type)
    style = path_style(kind, n_features, lines_only=geom == "line")
    fmap = dict(field_map or {})
    cols = list(columns)
    roles_present = [r for r in kind.values if fmap.get(r, r) in cols]
    by, colors = value_colors(kind, roles_present)
    if by and colors and geom != "line":
        column = fmap.get(by, by)
        cats, syms = [], []
        for i, (value, c) in enumerate(colors.items()):
            cats.append(f'<category render="true" symbol="{i}" value={quoteattr(value)} '
                        f'label={quoteattr(value)}/>')
            syms.append(_symbol(str(i), geom, {**style, "fillColor": c}))
        n = len(colors)
        cats.append(f'<category render="true" symbol="{n}" value="" label="其他"/>')
        syms.append(_symbol(str(n), geom, style))
        renderer = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(column)} '
                    'symbollevels="0" enableorderby="0" forceraster="0">'
                    f'<categories>{"".join(cats)}</categories><symbols>{"".join(syms)}</symbols>'
                    f'<source-symbol>{_symbol("0", geom, style)}</source-symbol>'
                    "<rotation/><sizescale/></renderer-v2>")
    else:
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" '
                    f'forceraster="0"><symbols>{_symbol("0", geom, style)}</symbols>'
                    "<rotation/><sizescale/></renderer-v2>")
    al = "".join(f'<alias field={quoteattr(c)} index="{i}" name={quoteattr(a)}/>'
                 for i, (c, a) in enumerate((aliases or {}).items()))
    gtype = {"point": 0, "line": 1, "polygon": 2}[geom]
    note = f"<!-- ecogis style: {title or kind.name_zh} ({kind.id}) from layers/kinds.toml -->"
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="{_QGIS_VERSION}" styleCategories="Symbology|Fields">{note}'
            f"{renderer}<aliases>{al}</aliases>"
            f"<layerGeometryType>{gtype}</layerGeometryType></qgis>\n")


def sld(kind: Kind, geometry_type: str | None, layer_name: str) -> str:
    """Return a minimal OGC SLD 1.1 of the kind's base colour (single symbol)."""
    geom = qgis_geometry(geometry_type)
    s = path_style(kind, 2, lines_only=geom == "line")
    stroke = (f'<se:Stroke><se:SvgParameter name="stroke">{s["color"]}</se:SvgParameter>'
              f'<se:SvgParameter name="stroke-opacity">{s["opacity"]:g}</se:SvgParameter>'
              f'<se:SvgParameter name="stroke-width">{s["weight"]:g}</se:SvgParameter>'
              "</se:Stroke>")
    if geom == "polygon":
        fill = (f'<se:Fill><se:SvgParameter name="fill">{s.get("fillColor", s["color"])}'
                f'</se:SvgParameter><se:SvgParameter name="fill-opacity">'
                f'{s.get("fillOpacity", 0.0) if s.get("fill", True) else 0:g}'
                "</se:SvgParameter></se:Fill>")
        sym = f"<se:PolygonSymbolizer>{fill}{stroke}</se:PolygonSymbolizer>"
    elif geom == "line":
        sym = f"<se:LineSymbolizer>{stroke}</se:LineSymbolizer>"
    else:
        sym = (f'<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle'
               f'</se:WellKnownName><se:Fill><se:SvgParameter name="fill">{s["color"]}'
               f"</se:SvgParameter></se:Fill>{stroke}</se:Mark><se:Size>8</se:Size>"
               "</se:Graphic></se:PointSymbolizer>")
    name = _xml_text(layer_name)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<StyledLayerDescriptor xmlns="http://www.opengis.net/sld" '
            'xmlns:se="http://www.opengis.net/se" version="1.1.0">'
            f"<NamedLayer><se:Name>{name}</se:Name><UserStyle><se:Name>{name}</se:Name>"
            f"<se:FeatureTypeStyle><se:Rule><se:Name>{_xml_text(kind.name_zh)}</se:Name>"
            f"{sym}</se:Rule></se:FeatureTypeStyle></UserStyle></NamedLayer>"
            "</StyledLayerDescriptor>")


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
