"""合规性审查 reports of a siting check: Markdown, and self-contained HTML with SVG maps.

The HTML needs nothing from the network: styles are inline and every map is an SVG drawn
here from the check's own geometry (the site, and the features it hits, in the check's
Gauss-Krüger plane, clipped to a window around the site), with a scale bar and a legend.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from typing import Any

import numpy as np
import shapely

from ecogis.crs import crs_label
from ecogis.report import format_markdown
from ecogis.rules import VERDICT_ZH, VERDICTS
from ecogis.units import from_m2

VERDICT_COLOR = {"forbidden": "#c0392b", "conditional": "#e67e22", "warn": "#d4ac0d",
                 "allowed": "#27ae60"}
#: sites drawn in detail in one HTML report (the others are listed in the summary table)
MAX_SITE_MAPS = 200


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:,.{digits}f}"
    return str(v)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def _mu(m2: float) -> str:
    return f"{from_m2(m2, 'mu'):,.2f} 亩"


def _header_lines(result) -> list[tuple[str, str]]:
    rb = result.rulebook
    return [
        ("工作空间", str(result.workspace or "—")),
        ("规则库", f"{' + '.join(rb['files'])}（{rb['region_name']}，{rb['rules']} 条规则）"),
        ("面积", f"m²，{result.method}"
                 + ("（CGCS2000 椭球面积）" if result.method == "ellipsoidal"
                    else f"（{crs_label(result.crs)} 高斯-克吕格平面面积）")),
        ("距离", f"m，{crs_label(result.crs)} 高斯-克吕格平面"),
        ("审查时间", datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")),
    ]


def _summary_rows(result) -> list[dict[str, Any]]:
    return [{"id": s.id, "name": s.name or "", "category": f"{s.category_zh} ({s.category})",
             "verdict": f"{VERDICT_ZH[s.verdict]}（{s.verdict}）", "hits": len(s.hits),
             "area": s.area_m2, "farmland": s.farmland_m2, "comp": s.compensation_m2}
            for s in result.sites]


_SUMMARY_COLS = [("id", "项目"), ("name", "名称"), ("category", "类别"), ("verdict", "结论"),
                 ("hits", "触发规则"), ("area", "面积 m²"), ("farmland", "占用永久基本农田 m²"),
                 ("comp", "需补划 m²")]
_HIT_COLS = [("layer", "图层"), ("feature", "要素"), ("zone", "分区/级别"), ("rule", "规则"),
             ("verdict", "结论"), ("overlap", "重叠面积 m²"), ("ratio", "占项目"),
             ("distance", "距离 m"), ("procedures", "程序/审批"), ("citation", "依据")]


_LANDUSE_COLS = [("dlbm", "地类编码"), ("dlmc", "地类名称"), ("area", "压占面积 m²"),
                 ("net", "扣除田坎后 m²"), ("tiankan", "田坎 m²"), ("ha", "公顷"), ("mu", "亩")]


def _landuse_rows(site) -> list[dict[str, Any]]:
    """压占 by 地类 of a site (``site.extra["landuse"]``), with a 合计 row."""
    rows = site.extra.get("landuse") or []
    out = [{"dlbm": r["dlbm"], "dlmc": r["dlmc"], "area": _fmt(r["area_m2"]),
            "net": _fmt(r["net_m2"]), "tiankan": _fmt(r["tiankan_m2"]),
            "ha": f"{r['area_ha']:,.4f}", "mu": f"{r['area_mu']:,.2f}"} for r in rows]
    if len(rows) > 1:
        tot = {k: sum(r[k] for r in rows) for k in ("area_m2", "net_m2", "tiankan_m2",
                                                      "area_ha", "area_mu")}
        out.append({"dlbm": "合计", "dlmc": "", "area": _fmt(tot["area_m2"]),
                    "net": _fmt(tot["net_m2"]), "tiankan": _fmt(tot["tiankan_m2"]),
                    "ha": f"{tot['area_ha']:,.4f}", "mu": f"{tot['area_mu']:,.2f}"})
    return out


def _hit_rows(site) -> list[dict[str, Any]]:
    rows = []
    for h in site.hits:
        n = len(h.features)
        if h.names:
            feat = "、".join(h.names[:3])
            if n > len(h.names[:3]):
                feat += f" 等 {n} 个"
        else:
            feat = "—" if h.feature is None else str(h.feature)
            if n > 1:
                feat += f" 等 {n} 个"
            if h.name:
                feat += f"（{h.name}）"
        proc = "；".join(h.procedures)
        if h.approval:
            proc += f"；审批：{h.approval}"
        rows.append({
            "layer": f"{h.kind_zh}（{h.layer}）", "feature": feat, "zone": h.zone or "—",
            "rule": f"{h.rule_zh}（{h.rule}，{h.test}）", "verdict": VERDICT_ZH[h.verdict],
            "overlap": _fmt(h.overlap_m2), "ratio": _pct(h.overlap_ratio),
            "distance": _fmt(h.distance_m), "procedures": proc or "—",
            "citation": h.citation.get("text", ""),
        })
    return rows


def _farmland_text(site) -> str:
    if site.farmland_m2 <= 0:
        return "不占用永久基本农田。"
    out = f"占用永久基本农田 {site.farmland_m2:,.1f} m²（{_mu(site.farmland_m2)}）"
    if site.compensation_m2 > 0:
        out += (f"；须补划 {site.compensation_m2:,.1f} m²（{_mu(site.compensation_m2)}），"
                "数量不减少、质量不降低")
    elif site.verdict == "forbidden":
        out += "；按规则不得占用，无补划途径"
    return out + "。"


def _declared_text(site) -> str | None:
    d = site.extra.get("declared_area")
    if not d or d.get("declared_m2") is None:
        return None
    ok = "一致" if d["ok"] else "不一致，请核对界址点"
    return (f"界址点文件申报面积 {d['declared_m2']:,.1f} m²，坐标计算椭球面积 "
            f"{d['ellipsoidal_m2']:,.1f} m²、平面面积 {d['projected_m2']:,.1f} m²，"
            f"差 {d['diff_m2']:+,.1f} m²（{ok}）。")


def _quotes(site) -> list[str]:
    seen, out = set(), []
    for h in site.hits:
        c = h.citation
        key = (h.rule, c.get("text"))
        if key in seen:
            continue
        seen.add(key)
        line = f"{h.rule}：{c.get('text', '')}"
        if c.get("quote"):
            line += f" —「{c['quote']}」"
        out.append(line)
    return out


def _precedence(site) -> list[str]:
    """Which rule displaced which (``overrides``) on this site, and why."""
    seen, out = set(), []
    for h in getattr(site, "overridden", []):
        if (h.rule, h.overridden_by) in seen:
            continue
        seen.add((h.rule, h.overridden_by))
        out.append(f"{h.rule}（{VERDICT_ZH[h.verdict]}）不适用：{h.precedence}")
    return out


# --------------------------------------------------------------------------- Markdown


def render_markdown(result) -> str:
    """Return the 合规性审查 report of a :class:`~ecogis.siting.CheckResult` as Markdown."""
    counts = result.counts()
    out = ["# 建设项目选址合规性审查报告", ""]
    out += [f"- **{k}**：{v}" for k, v in _header_lines(result)]
    out += ["", "## 总体结论", "",
            "、".join(f"{VERDICT_ZH[v]}（{v}）{counts[v]} 个" for v in VERDICTS) + "。", "",
            format_markdown(_summary_rows(result), _SUMMARY_COLS, digits=1), ""]
    for s in result.sites:
        if not s.hits and not s.extra.get("declared_area"):
            continue
        title = f"## 项目 {s.id}" + (f"（{s.name}）" if s.name else "")
        out += [title, "",
                f"- **结论**：{VERDICT_ZH[s.verdict]}（{s.verdict}）",
                f"- **类别**：{s.category_zh}（{s.category}）；几何：{s.geometry_type}"
                + (f"，半径 {s.radius_m:g} m" if s.radius_m else "")
                + (f"，宽度 {s.width_m:g} m" if s.width_m else "")
                + f"；面积 {s.area_m2:,.1f} m²（{_mu(s.area_m2)}）",
                f"- **永久基本农田**：{_farmland_text(s)}"]
        for ctype, a in s.compensation.items():
            out.append(f"- **{ctype}**：{a:,.1f} m²（{_mu(a)}）")
        dt = _declared_text(s)
        if dt:
            out.append(f"- **面积核对**：{dt}")
        if s.extra.get("landuse"):
            out += ["", f"压占地类（{s.extra['landuse_layer']}）：", "",
                    format_markdown(_landuse_rows(s), _LANDUSE_COLS)]
        if s.hits:
            out += ["", format_markdown(_hit_rows(s), _HIT_COLS), "", "依据原文："]
            out += [f"- {q}" for q in _quotes(s)]
        prec = _precedence(s)
        if prec:
            out += ["", "规则优先："] + [f"- {p}" for p in prec]
        out.append("")
    out += _tail_markdown(result)
    return "\n".join(out)


def _tail_markdown(result) -> list[str]:
    out = []
    if result.not_evaluated:
        out += ["## 未评估的规则", "",
                "工作空间缺少下列图层类型，相关规则未能评估（结论可能偏宽）：", ""]
        by_kind: dict[str, list[str]] = {}
        for n in result.not_evaluated:
            by_kind.setdefault(n["kind"], []).append(n["rule"])
        out += [f"- {k}：{', '.join(v)}" for k, v in by_kind.items()]
        out.append("")
    params = result.rulebook.get("params") or {}
    if params:
        out += ["## 参数", "", "| 参数 | 值 | 出处 |", "|---|---|---|"]
        for name, p in params.items():
            src = ("原文给出" if p["given"] else "ecogis 默认值（原文未给）") + f"：{p['note']}"
            out.append(f"| {name} | {p['value']} {p['unit']} | {src.replace('|', '/')} |")
        out.append("")
    if result.notes:
        out += ["## 提示", ""] + [f"- {n}" for n in result.notes] + [""]
    errors = getattr(result, "errors", [])
    if errors:
        out += ["## 未检查的项目（输入有误）", ""]
        out += [f"- 项目 {e['id']}：{e['error']}" for e in errors] + [""]
    return out


# --------------------------------------------------------------------------- SVG


def _ring_path(coords: np.ndarray, tx) -> str:
    pts = tx(coords)
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def _geom_path(g, tx) -> tuple[str, str]:
    """Return (kind, svg path data) of a geometry: polygon / line / point."""
    parts = []
    dim = shapely.get_dimensions(g)
    for p in shapely.get_parts(g):
        if p.is_empty:
            continue
        t = p.geom_type
        if t == "Polygon":
            parts.append(_ring_path(np.asarray(p.exterior.coords), tx) + " Z")
            parts += [_ring_path(np.asarray(h.coords), tx) + " Z" for h in p.interiors]
        elif t in ("LineString", "LinearRing"):
            parts.append(_ring_path(np.asarray(p.coords), tx))
        elif t == "Point":
            x, y = tx(np.array([[p.x, p.y]]))[0]
            parts.append(f"M{x - 4:.1f},{y:.1f} a4,4 0 1,0 8,0 a4,4 0 1,0 -8,0")
    kind = {2: "polygon", 1: "line"}.get(int(dim), "point")
    return kind, " ".join(parts)


def _nice(length: float) -> float:
    e = 10 ** math.floor(math.log10(max(length, 1e-9)))
    for m in (5, 2, 1):
        if m * e <= length:
            return m * e
    return e


def site_svg(result, index: int, *, width: int = 520, height: int = 360) -> str:
    """Return an SVG map of site ``index`` and the features it hits (offline, inline)."""
    engine = result.engine
    ss = result.site_set
    s = result.sites[index]
    site_geom = ss.geoms[index]
    src_geom = ss.source[index]
    minx, miny, maxx, maxy = shapely.bounds(site_geom)
    size = max(maxx - minx, maxy - miny, 40.0)
    reach = max([h.distance_m or 0.0 for h in s.hits
                 if h.distance_m is not None and h.features] + [0.0])
    pad = max(0.3 * size, min(reach, 5 * size) + 0.1 * size, 30.0)
    win = [minx - pad, miny - pad, maxx + pad, maxy + pad]
    w_m, h_m = win[2] - win[0], win[3] - win[1]
    k = min((width - 20) / w_m, (height - 40) / h_m)
    ox = (width - w_m * k) / 2
    oy = (height - 30 - h_m * k) / 2

    def tx(c: np.ndarray) -> np.ndarray:
        return np.column_stack([ox + (c[:, 0] - win[0]) * k, oy + (win[3] - c[:, 1]) * k])

    box = shapely.box(*win)
    layers_drawn: dict[str, tuple[str, str]] = {}
    body: list[str] = []
    feats: list[tuple[float, str]] = []
    for h in s.hits:
        li = engine.layers.get(h.layer) if engine is not None else None
        if li is None or not h.features:
            continue
        pos = _positions(li, h.features[:500])
        kind = li.kind
        for g in li.geoms[pos]:
            if g is None:
                continue
            g = shapely.clip_by_rect(g, *win) if not shapely.within(g, box) else g
            g = shapely.simplify(g, 0.5 / k)
            if g.is_empty:
                continue
            gk, d = _geom_path(g, tx)
            if gk == "polygon":
                feats.append((g.area, f'<path d="{d}" fill="{kind.color}" fill-opacity="'
                              f'{kind.fill_opacity}" stroke="{kind.color}" stroke-width="1" '
                              'fill-rule="evenodd"/>'))
            else:
                feats.append((0.0, f'<path d="{d}" fill="none" stroke="{kind.color}" '
                              'stroke-width="2.5"/>'))
        layers_drawn[h.layer] = (kind.color, f"{kind.name_zh}（{h.layer}）")
    # large polygons below, small ones and lines on top
    body += [svg for _, svg in sorted(feats, key=lambda t: -t[0])]
    vcol = VERDICT_COLOR[s.verdict]
    gk, d = _geom_path(site_geom, tx)
    if gk == "polygon":
        body.append(f'<path d="{d}" fill="{vcol}" fill-opacity="0.25" stroke="#000" '
                    'stroke-width="1.5" fill-rule="evenodd"/>')
        if not src_geom.equals(site_geom):
            _, d2 = _geom_path(src_geom, tx)
            body.append(f'<path d="{d2}" fill="none" stroke="#000" stroke-width="1" '
                        'stroke-dasharray="4 3"/>')
    elif gk == "line":
        body.append(f'<path d="{d}" fill="none" stroke="#000" stroke-width="2"/>')
    else:
        body.append(f'<path d="{d}" fill="{vcol}" stroke="#000" stroke-width="1.5"/>')
    # scale bar and north arrow
    bar_m = _nice(w_m / 4)
    bar_px = bar_m * k
    y0 = height - 14
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    body.append(f'<g font-size="11" font-family="sans-serif"><rect x="10" y="{y0 - 4}" '
                f'width="{bar_px:.1f}" height="4" fill="#333"/><text x="{bar_px + 16:.1f}" '
                f'y="{y0}">{label}</text>'
                f'<text x="{width - 18}" y="18" font-weight="bold">N</text>'
                f'<path d="M{width - 14},22 l-5,12 l5,-3 l5,3 Z" fill="#333"/></g>')
    legend = [f'<span class="lg"><i style="background:{vcol};border:1px solid #000"></i>'
              f'项目 {html.escape(str(s.id))}</span>']
    legend += [f'<span class="lg"><i style="background:{c}"></i>{html.escape(t)}</span>'
               for c, t in layers_drawn.values()]
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="site {html.escape(str(s.id))}">'
           f'<rect width="{width}" height="{height}" fill="#fbfbf8" stroke="#ccc"/>'
           + "".join(body) + "</svg>")
    return f'<figure>{svg}<figcaption>{"".join(legend)}</figcaption></figure>'


def _positions(li, ids: list[Any]) -> np.ndarray:
    cache = getattr(li, "_id_pos", None)
    if cache is None:
        cache = {(v.item() if hasattr(v, "item") else v): i for i, v in enumerate(li.feature_ids)}
        li._id_pos = cache
    return np.array([cache[i] for i in ids if i in cache], dtype=np.int64)


def overview_svg(result, *, width: int = 720, height: int = 480) -> str:
    """Return an SVG of all sites coloured by verdict (batch overview)."""
    ss = result.site_set
    minx, miny, maxx, maxy = shapely.total_bounds(ss.geoms)
    w_m, h_m = max(maxx - minx, 100.0), max(maxy - miny, 100.0)
    pad = 0.05 * max(w_m, h_m)
    minx, miny, w_m, h_m = minx - pad, miny - pad, w_m + 2 * pad, h_m + 2 * pad
    k = min((width - 20) / w_m, (height - 40) / h_m)

    def tx(c: np.ndarray) -> np.ndarray:
        return np.column_stack([10 + (c[:, 0] - minx) * k, 10 + (miny + h_m - c[:, 1]) * k])

    body = []
    for i, s in enumerate(result.sites):
        g = ss.geoms[i]
        if shapely.get_dimensions(g) == 2 and max(np.ptp(shapely.bounds(g).reshape(2, 2),
                                                         axis=0)) * k < 3:
            g = shapely.centroid(g)
        gk, d = _geom_path(shapely.simplify(g, 1 / k), tx)
        col = VERDICT_COLOR[s.verdict]
        title = f"<title>{html.escape(str(s.id))}: {s.verdict}</title>"
        if gk == "line":
            body.append(f'<path d="{d}" fill="none" stroke="{col}" stroke-width="2">{title}'
                        "</path>")
        else:
            body.append(f'<path d="{d}" fill="{col}" fill-opacity="0.6" stroke="{col}">'
                        f"{title}</path>")
    bar_m = _nice(w_m / 4)
    label = f"{bar_m / 1000:g} km" if bar_m >= 1000 else f"{bar_m:g} m"
    body.append(f'<g font-size="11" font-family="sans-serif"><rect x="10" y="{height - 18}" '
                f'width="{bar_m * k:.1f}" height="4" fill="#333"/><text x="{bar_m * k + 16:.1f}" '
                f'y="{height - 14}">{label}</text></g>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><rect width="{width}" height="{height}" '
            'fill="#fbfbf8" stroke="#ccc"/>' + "".join(body) + "</svg>")


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.5;padding:0 1em}
h1{font-size:1.6em;border-bottom:2px solid #333}h2{font-size:1.25em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em;width:100%}
th,td{border:1px solid #bbb;padding:3px 6px;vertical-align:top}th{background:#eee}
td.num{text-align:right;white-space:nowrap}
.v{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-weight:bold}
.forbidden{background:#c0392b}.conditional{background:#e67e22}.warn{background:#d4ac0d}
.allowed{background:#27ae60}
figure{margin:.5em 0}figcaption{font-size:.85em}
.lg{margin-right:1em}.lg i{display:inline-block;width:12px;height:12px;margin-right:4px;
vertical-align:middle;opacity:.8}
.quote{font-size:.85em;color:#444}.meta td:first-child{width:7em;font-weight:bold}
iframe.map{width:100%;height:560px;border:1px solid #bbb}
@media print{iframe.map{display:none}}
"""


def _table_html(rows: list[dict[str, Any]], cols, numeric=()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in cols)
    body = []
    for r in rows:
        cells = []
        for key, _ in cols:
            v = r.get(key)
            text = _fmt(v) if isinstance(v, float) else ("—" if v is None else str(v))
            cls = ' class="num"' if key in numeric else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(result, *, max_maps: int = MAX_SITE_MAPS, embed_map: bool = True) -> str:
    """Return the 合规性审查 report as one self-contained HTML page.

    With :mod:`ecogis.maps` the page embeds its interactive offline map (Leaflet inlined, in
    an ``iframe srcdoc``); every site with hits also gets a static SVG drawing that prints.
    """
    counts = result.counts()
    parts = ["<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
             "<title>建设项目选址合规性审查报告</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>建设项目选址合规性审查报告</h1>", "<table class='meta'>"]
    parts += [f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
              for k, v in _header_lines(result)]
    parts.append("</table><h2>总体结论</h2><p>")
    parts.append("　".join(f"<span class='v {v}'>{VERDICT_ZH[v]}</span> {counts[v]} 个"
                           for v in VERDICTS))
    parts.append("</p>")
    if embed_map and result.engine is not None and _has_maps():
        from ecogis.maps import render_html as map_html

        doc = map_html(interactive_map(result))
        parts.append("<h2>地图</h2><iframe class='map' title='选址审查地图' srcdoc=\""
                     + html.escape(doc, quote=True) + "\"></iframe>")
    elif len(result.sites) > 1:
        parts.append(overview_svg(result))
    parts.append(_table_html(_summary_rows(result), _SUMMARY_COLS,
                             numeric=("area", "farmland", "comp", "hits")))
    drawn = 0
    for i, s in enumerate(result.sites):
        if not s.hits and len(result.sites) > 1 and not s.extra.get("declared_area"):
            continue
        parts.append(f"<h2>项目 {html.escape(str(s.id))}"
                     + (f"（{html.escape(s.name)}）" if s.name else "")
                     + f" <span class='v {s.verdict}'>{VERDICT_ZH[s.verdict]}</span></h2>")
        geo = s.geometry_type + (f"，半径 {s.radius_m:g} m" if s.radius_m else "") \
            + (f"，宽度 {s.width_m:g} m" if s.width_m else "")
        items = [("类别", f"{s.category_zh}（{s.category}）"), ("几何", geo),
                 ("面积", f"{s.area_m2:,.1f} m²（{_mu(s.area_m2)}）"),
                 ("永久基本农田", _farmland_text(s))]
        items += [(ctype, f"{a:,.1f} m²（{_mu(a)}）") for ctype, a in s.compensation.items()]
        dt = _declared_text(s)
        if dt:
            items.append(("面积核对", dt))
        parts.append("<table class='meta'>" + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in items)
            + "</table>")
        if result.engine is not None and result.site_set is not None and drawn < max_maps:
            parts.append(site_svg(result, i))
            drawn += 1
        if s.extra.get("landuse"):
            parts.append(f"<h3>压占地类（{html.escape(str(s.extra['landuse_layer']))}）</h3>")
            parts.append(_table_html(_landuse_rows(s), _LANDUSE_COLS,
                                     numeric=("area", "net", "tiankan", "ha", "mu")))
        if s.hits:
            parts.append(_table_html(_hit_rows(s), _HIT_COLS,
                                     numeric=("overlap", "ratio", "distance")))
            parts.append("<div class='quote'><b>依据原文</b><ul>" + "".join(
                f"<li>{html.escape(q)}</li>" for q in _quotes(s)) + "</ul></div>")
            prec = _precedence(s)
            if prec:
                parts.append("<div class='quote'><b>规则优先</b><ul>" + "".join(
                    f"<li>{html.escape(p)}</li>" for p in prec) + "</ul></div>")
    if drawn >= max_maps:
        parts.append(f"<p>（地图仅绘制前 {max_maps} 个项目。）</p>")
    tail = _tail_markdown(result)
    if tail:
        parts.append("<h2>说明</h2><ul>")
        parts += [f"<li>{html.escape(t.lstrip('- '))}</li>" for t in tail
                  if t and not t.startswith("#") and not t.startswith("|---")]
        parts.append("</ul>")
    parts.append("<p style='font-size:.8em;color:#777'>ecogis 选址审查；地图为本地绘制的 SVG，"
                 "无需联网。</p></body></html>")
    return "".join(parts)


def _has_maps() -> bool:
    try:
        import ecogis.maps  # noqa: F401
    except ImportError:  # pragma: no cover - ecogis.maps ships with ecogis
        return False
    return True


#: features of one layer drawn on the interactive map (the ones the sites hit)
MAX_MAP_FEATURES = 200_000


def interactive_map(result, *, title: str | None = None, public: bool = False):
    """Return an :mod:`ecogis.maps` folium map of the sites and the features they hit.

    Sites are coloured by verdict with their hits (rule, verdict, overlap, distance,
    citation) in the popup; each layer that was hit is drawn with those features only.
    """
    import geopandas as gpd

    from ecogis.maps import MapLayer, make_map

    engine, ss = result.engine, result.site_set
    wanted: dict[str, set] = {}
    for s in result.sites:
        for h in s.hits:
            if h.features and h.layer in engine.layers:
                wanted.setdefault(h.layer, set()).update(h.features)
    layers = []
    for name, ids in wanted.items():
        li = engine.layers[name]
        pos = np.sort(_positions(li, sorted(ids, key=str)[:MAX_MAP_FEATURES]))
        gdf = gpd.GeoDataFrame(li.gdf.iloc[pos].reset_index(drop=True),
                               geometry=list(li.geoms[pos]), crs=engine.crs)
        layers.append(MapLayer(name, li.kind.id, gdf))
    hits = []
    for s in result.sites:
        hl = []
        for h in s.hits:
            d = {k: v for k, v in h.as_dict().items()
                 if k in ("kind", "layer", "name", "verdict", "rule", "overlap_m2",
                          "distance_m")}
            d["citation"] = h.citation.get("text", "")
            hl.append(d)
        hits.append(hl)
    sites = gpd.GeoDataFrame(
        {"id": [str(s.id) for s in result.sites], "name": [s.name for s in result.sites],
         "category": [s.category_zh for s in result.sites],
         "verdict": [s.verdict for s in result.sites], "hits": hits},
        geometry=list(ss.geoms), crs=engine.crs)
    counts = result.counts()
    title = title or ("选址合规性审查：" + f"{len(result.sites)} 个项目（"
                      + "，".join(f"{VERDICT_ZH[v].split('（')[0]} {counts[v]}"
                                  for v in VERDICTS if counts[v]) + "）")
    return make_map(layers, title=title, sites=sites, public=public,
                    synthetic=bool(getattr(result, "synthetic", False)),
                    source=str(result.workspace) if result.workspace else None)


def write_map(result, path) -> str:
    """Write the check's map to ``path``: :mod:`ecogis.maps` when present, else SVG."""
    from pathlib import Path

    if _has_maps():
        from ecogis.maps import save_map

        return str(save_map(interactive_map(result), path))
    Path(path).write_text(render_map_html(result), encoding="utf-8")
    return str(path)


def render_map_html(result, *, max_maps: int = MAX_SITE_MAPS) -> str:
    """Return a self-contained HTML page of static SVG maps of the check (works offline).

    The batch overview (every site coloured by verdict) and one map per site with hits
    (the site and the features it hits), without the report's tables.
    """
    counts = result.counts()
    parts = ["<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
             "<title>选址审查地图</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>选址审查地图</h1><p>"]
    parts.append("　".join(f"<span class='v {v}'>{VERDICT_ZH[v]}</span> {counts[v]} 个"
                           for v in VERDICTS))
    parts.append(f"</p><p>{html.escape(crs_label(result.crs))} 高斯-克吕格平面；比例尺见图。</p>")
    if len(result.sites) > 1:
        parts.append(overview_svg(result))
    drawn = 0
    for i, s in enumerate(result.sites):
        if (not s.hits and len(result.sites) > 1) or drawn >= max_maps:
            continue
        parts.append(f"<h2>项目 {html.escape(str(s.id))} <span class='v {s.verdict}'>"
                     f"{VERDICT_ZH[s.verdict]}</span></h2>")
        parts.append(site_svg(result, i))
        drawn += 1
    parts.append("</body></html>")
    return "".join(parts)
