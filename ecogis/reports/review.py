"""The 用地预审 / 合规性审查 report of a siting check as a document: blocks any renderer draws.

:func:`build_review` turns a :class:`~ecogis.siting.CheckResult` into a list of
:class:`Block` (headings, paragraphs, tables, figures, a signature block), in the order a
section chief reads and signs: the summary table of all sites, then per site 项目基本情况
(with the 界址点 table), the map, 压占 by control line and by 地类 (gross and net of 田坎,
公顷 and 亩), the findings in 用地预审 order with an explicit 涉及 / 不涉及 statement each, the
rules with their citations, 审查意见 and the signature block. :mod:`ecogis.reports.html` and
:mod:`ecogis.reports.docx` render the blocks; :mod:`ecogis.reports.pdf` prints the HTML.

Areas are m² in the result and shown in 公顷 and 亩 (and ``unit`` when another one is asked
for); features are named by their 标识码 (BSM) or 名称, never by internal row ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import shapely

from ecogis.crs import crs_label
from ecogis.reports.names import NAME_FIELDS
from ecogis.rules import VERDICT_ZH, VERDICTS
from ecogis.units import area_unit

#: the findings of a 用地预审, in order: (kind id, what is said of it)
FINDING_ORDER: list[tuple[str, str]] = [
    ("redline", "生态保护红线"),
    ("farmland", "永久基本农田"),
    ("ugb", "城镇开发边界"),
    ("protected_area", "自然保护地"),
    ("water_source", "饮用水水源保护区"),
    ("river", "河道管理范围"),
    ("eco_control", "生态控制区"),
    ("cultivated", "耕地"),
]
#: draw order of the map, bottom to top: the strict lines above the farmland
DRAW_ORDER = ["admin", "env_unit", "landuse", "cultivated", "hs_farmland", "farmland", "forest",
              "green_space", "residential", "industrial_park", "ugb", "eco_control", "wetland",
              "river", "water_source", "protected_area", "redline"]
#: 界址点 listed per site at most (a long line site has thousands of vertices)
MAX_POINTS = 300


@dataclass
class Block:
    """One piece of the document.

    ``kind``: ``title``, ``h1``, ``h2``, ``p``, ``kv`` (rows of two cells), ``table``
    (``header`` + ``rows``; ``numeric`` = indexes of right-aligned columns), ``figure``
    (``site`` = index of the site drawn, or ``None`` for the overview), ``signature``,
    ``pagebreak``. ``style`` is a hint: ``verdict-<v>``, ``small``, ``note``.
    """

    kind: str
    text: str = ""
    rows: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    numeric: tuple[int, ...] = ()
    site: int | None = None
    style: str = ""


# ------------------------------------------------------------------------- formatting
def fmt_area(m2: float | None, unit: str) -> str:
    """``m2`` in ``unit`` at the unit's precision, with thousands separators."""
    from ecogis.reports.model import UNIT_DIGITS, clean

    if m2 is None:
        return "—"
    u = area_unit(unit)
    v = clean(m2 / u.m2, UNIT_DIGITS.get(u.id, 4))
    return f"{v:,.{UNIT_DIGITS.get(u.id, 4)}f}"


def area_text(m2: float | None, units: tuple[str, ...] = ("ha", "mu")) -> str:
    """``1.2345 公顷（18.52 亩）``."""
    if m2 is None:
        return "—"
    parts = [f"{fmt_area(m2, u)} {area_unit(u).name_zh}" for u in units]
    return parts[0] + ("（" + "，".join(parts[1:]) + "）" if len(parts) > 1 else "")


def _units(unit: str | None) -> tuple[str, ...]:
    from ecogis.reports.model import units_for

    return units_for(unit) if unit and area_unit(unit).id not in ("ha", "mu") else ("ha", "mu")


# ---------------------------------------------------------------------- feature names
def feature_names(result, layer: str, ids: list[Any], *, limit: int = 8) -> list[str]:
    """The 标识码 / 名称 of features ``ids`` of ``layer``; features without one are left out."""
    engine = getattr(result, "engine", None)
    li = engine.layers.get(layer) if engine is not None else None
    if li is None:
        return []
    from ecogis.siting_report import _positions

    cols = [c for c in NAME_FIELDS if c in li.gdf.columns]
    if not cols:
        return []
    out = []
    for p in _positions(li, list(ids[: 50 * limit])):
        for c in cols:
            v = li.gdf[c].iloc[int(p)]
            if v is not None and str(v).strip() not in ("", "nan", "None", "<NA>"):
                out.append(str(v).strip())
                break
        if len(out) >= limit:
            break
    return list(dict.fromkeys(out))


def hit_feature_text(result, hit) -> str:
    """The features of ``hit`` by BSM, with their 名称: ``A01、A02 等 7 个（琼江红线）``.

    The 标识码 (BSM, else 图斑编号/code) come from the layer; the names from ``hit.names``
    (the layer's mapped name role) are added in brackets when they say something else.
    """
    names = [str(n) for n in getattr(hit, "names", None) or [] if n not in (None, "")]
    ids = feature_names(result, hit.layer, list(hit.features)) if hit.features else []
    ids = [str(n) for n in ids if n not in (None, "")]
    n = len(hit.features) if hit.features else len(ids or names)
    first = ids or names
    if not first:
        return f"{n} 个图斑（无标识码）" if n else "—"
    text = "、".join(first[:6]) + (f" 等 {n} 个" if n > min(len(first), 6) else "")
    extra = [x for x in names if x not in first] if ids else []
    return text + (f"（{'、'.join(extra[:3])}{' 等' if len(extra) > 3 else ''}）" if extra else "")


# -------------------------------------------------------------------------- land use
def landuse_rows(site) -> list[dict[str, Any]]:
    """The site's 压占 by 地类 (``site.extra['landuse']`` from ``ecogis check``), m²."""
    lu = site.extra.get("landuse") if hasattr(site, "extra") else None
    if lu is None and isinstance(site, dict):
        lu = site.get("landuse")
    out = []
    for r in lu or []:
        gross = float(r.get("area_m2") or 0.0)
        net = r.get("net_m2")
        tk = r.get("tiankan_m2")
        if net is None and tk is not None:
            net = gross - float(tk)
        if tk is None and net is not None:
            tk = gross - float(net)
        out.append({"dlbm": str(r.get("dlbm") or ""), "dlmc": str(r.get("dlmc") or ""),
                    "area_m2": gross, "tiankan_m2": float(tk or 0.0),
                    "net_m2": float(gross if net is None else net)})
    return out


# ----------------------------------------------------------------------- coordinates
def boundary_points(result, index: int) -> tuple[list[list[str]], str]:
    """The 界址点 of site ``index``: rows (点号, X 北, Y 东) in the check's plane, and a note.

    X is the northing and Y the easting, as Chinese surveying writes them; the closing
    vertex of a ring is not repeated; each ring is numbered on from the last.
    """
    ss = result.site_set
    if ss is None:
        return [], ""
    g = ss.source[index]
    rows: list[list[str]] = []
    k = 0
    for part in shapely.get_parts(g):
        if part.geom_type == "Polygon":
            rings = [part.exterior, *part.interiors]
        elif part.geom_type in ("LineString", "LinearRing", "Point"):
            rings = [part]
        else:
            continue
        for ring_no, ring in enumerate(rings):
            xy = np.asarray(ring.coords)[:, :2]
            if ring.geom_type == "LinearRing" and len(xy) > 1:
                xy = xy[:-1]
            for x, y in xy:
                k += 1
                if len(rows) < MAX_POINTS:
                    rows.append([f"J{k}", f"{y:,.3f}", f"{x:,.3f}",
                                 "内环" if ring_no else ""])
    note = f"坐标系：{crs_label(result.crs)}（高斯-克吕格投影，X 为纵坐标/北，Y 为横坐标/东，米）"
    if k > len(rows):
        note += f"；共 {k} 个点，列出前 {len(rows)} 个"
    return rows, note


# --------------------------------------------------------------------------- findings
def _kinds_checked(result) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lyr in result.layers:
        out.setdefault(lyr["kind"], []).append(lyr["name"])
    return out


def _overlap(result, index: int, kind: str) -> tuple[float, dict[str, list]]:
    """Overlap (m², the check's area method) of site ``index`` with the layers of ``kind``,
    and the ids of the features it meets, per layer (a line layer: the features it touches)."""
    engine, ss = result.engine, result.site_set
    if engine is None or ss is None:
        return 0.0, {}
    g = ss.geoms[index]
    total = 0.0
    ids: dict[str, list] = {}
    for li in engine.layers_of_kind(kind):
        idx = li.tree.query(g, predicate="intersects")
        if not len(idx):
            continue
        inter = shapely.intersection(li.parts[idx], g)
        a = shapely.area(inter)
        keep = a > 1e-6
        if li.areal and keep.any():
            from ecogis.measure import area

            merged = shapely.union_all(inter[keep])
            total += float(area(np.array([merged], dtype=object), result.method, engine.crs)[0])
        elif not li.areal:
            keep = np.ones(len(idx), dtype=bool)
        feats = li.feature_ids[np.unique(li.part_feature[idx[keep]])]
        if len(feats):
            ids[li.name] = [f.item() if hasattr(f, "item") else f for f in feats]
    return total, ids


def _areal(result, layer: str) -> bool:
    engine = getattr(result, "engine", None)
    li = engine.layers.get(layer) if engine is not None else None
    return bool(li.areal) if li is not None else True


def findings(result, index: int, unit: str | None = None) -> list[dict[str, Any]]:
    """The findings of site ``index`` in 用地预审 order: one dict per control line.

    Each holds ``kind``, ``name``, ``status`` (涉及 / 不涉及 / 未审查), the sentence shown and
    the hits on that kind. Kinds the rulebook hit but :data:`FINDING_ORDER` does not list come
    after, in the order of the hits.
    """
    s = result.sites[index]
    units = _units(unit)
    checked = _kinds_checked(result)
    order = list(FINDING_ORDER)
    known = {k for k, _ in order}
    for h in s.hits:
        if h.kind not in known:
            order.append((h.kind, h.kind_zh))
            known.add(h.kind)
    out = []
    for kind, name in order:
        hits = [h for h in s.hits if h.kind == kind]
        if kind not in checked and not hits:
            if any(n["kind"] == kind for n in result.not_evaluated):
                out.append({"kind": kind, "name": name, "status": "未审查", "hits": [],
                            "text": f"工作空间无{name}图层，相关规则未能审查。",
                            "area_m2": 0.0, "features": []})
            continue
        planar, ids = _overlap(result, index, kind)
        overlap = max([h.overlap_m2 for h in hits if h.overlap_m2] + [0.0])
        if kind == "farmland":
            overlap = max(overlap, s.farmland_m2)
        inside = overlap > 0.005 or planar > 0.005
        # a line or point layer (河道中心线) is managed as a band around it: a hit is 涉及
        band = [h for h in hits if not _areal(result, h.layer) and h.distance_m is not None]
        if inside:
            area = overlap if overlap > 0 else planar
            feats = [n for lyr, fid in ids.items() for n in feature_names(result, lyr, fid)]
            count = sum(len(fid) for fid in ids.values())
            what = "占用" if kind in ("farmland", "cultivated") else "涉及"
            text = f"项目用地{what}{name} {area_text(area, units)}"
            if feats:
                text += f"，涉及 {'、'.join(feats[:6])}" + (f" 等 {count} 个" if count > 6
                                                             else "")
            elif count:
                text += f"，涉及 {count} 个图斑"
            if s.area_m2 > 0:
                text += f"，占项目用地 {100 * area / s.area_m2:.1f}%"
            text += "。"
            status = "涉及"
        elif band:
            d = min(h.distance_m for h in band)
            text = (f"项目用地涉及{name}：距{hit_feature_text(result, band[0])} {d:,.1f} 米，"
                    "在管理（退让）范围内。")
            status = "涉及"
        else:
            near = [h for h in hits if h.distance_m is not None]
            what = "不占用" if kind in ("farmland", "cultivated") else "不涉及"
            text = f"项目用地{what}{name}"
            if near:
                d = min(h.distance_m for h in near)
                text += f"；距最近的{name}要素（{hit_feature_text(result, near[0])}）{d:,.1f} 米"
            text += "。"
            status = "不涉及"
        for h in hits:
            text += (f"触发规则「{h.rule_zh}」（{h.rule}），结论：{VERDICT_ZH[h.verdict]}"
                     + (f"；依据：{h.citation.get('text')}" if h.citation.get("text") else "")
                     + "。")
        if not hits and status == "涉及":
            text += "未触发限制性规则。"
        out.append({"kind": kind, "name": name, "status": status, "hits": hits, "text": text,
                    "area_m2": area if inside else 0.0,
                    "features": feats if inside else [hit_feature_text(result, h) for h in hits]})
    return out


def procedures(site) -> list[str]:
    """The procedures the site's verdict needs: from its hits (and ``site.procedures``)."""
    out = list(getattr(site, "procedures", None) or site.extra.get("procedures") or [])
    for h in site.hits:
        out += list(h.procedures)
        if h.approval:
            out.append(f"报{h.approval}审批")
    if site.compensation_m2 > 0:
        out.append(f"按“数量不减少、质量不降低”补划永久基本农田 {area_text(site.compensation_m2)}")
    return [str(p) for p in dict.fromkeys(p for p in out if p)]


def opinion(site) -> str:
    """The 审查意见 sentence of a site: its verdict and what it needs."""
    v = site.verdict
    name = f"{site.name or site.id}"
    if v == "allowed":
        return (f"经审查，{name}选址不涉及生态保护红线等禁止建设区域，未触发限制性规则，"
                "原则同意该项目选址，按程序办理用地手续。")
    if v == "forbidden":
        rules = "、".join(dict.fromkeys(f"「{h.rule_zh}」" for h in site.hits
                                        if h.verdict == "forbidden"))
        return (f"经审查，{name}选址触及{rules}，不符合国土空间用途管制要求，"
                "不同意该项目选址，建议另行选址。")
    if v == "conditional":
        return (f"经审查，{name}选址涉及有条件准入的管控区域，须完成下列程序并经有权机关"
                "批准后方可办理用地手续。")
    return f"经审查，{name}选址存在需复核的事项，请核实下列内容后再行报批。"


def override_notes(site) -> list[str]:
    """Rules a more specific rule displaced on this site (``site.overridden``), one line each.

    Also a verdict set by hand (``site.extra['override']``) when a caller records one.
    """
    out = []
    for h in getattr(site, "overridden", None) or []:
        by = getattr(h, "overridden_by", "") or "更具体的规则"
        why = getattr(h, "precedence", "")
        out.append(f"规则「{h.rule_zh}」（{h.rule}，{VERDICT_ZH.get(h.verdict, h.verdict)}）"
                   f"由 {by} 取代" + (f"：{why}" if why else ""))
    o = site.extra.get("override") if hasattr(site, "extra") else None
    if isinstance(o, dict):
        out.append("人工调整结论：" + "，".join(f"{k}：{v}" for k, v in o.items()
                                             if v not in (None, "")))
    elif o:
        out.append(f"人工调整结论：{o}")
    return out


# ----------------------------------------------------------------------------- build
def _header(result, unit: str | None) -> list[list[str]]:
    rb = result.rulebook
    units = _units(unit)
    method = ("CGCS2000 椭球面积" if result.method == "ellipsoidal"
              else f"{crs_label(result.crs)} 高斯-克吕格平面面积")
    rows = [
        ["审查对象", f"{len(result.sites)} 个建设项目"
         + (f"（界址点文件 {result.sites_file}）" if result.sites_file else "")],
        ["数据来源", str(result.workspace or "—")
         + ("（示意数据，非正式成果）" if getattr(result, "synthetic", False) else "")],
        ["审查规则", f"{' + '.join(rb['files'])}（{rb['region_name']}，{rb['rules']} 条规则）"],
        ["面积", f"{method}；单位 {'、'.join(area_unit(u).name_zh for u in units)}"],
        ["距离", f"米，{crs_label(result.crs)} 高斯-克吕格平面"],
        ["审查日期", datetime.now(timezone.utc).astimezone().strftime("%Y年%m月%d日")],
    ]
    return rows


def build_review(result, *, unit: str | None = None, title: str | None = None,
                 max_sites: int = 200) -> list[Block]:
    """Return the blocks of the 用地预审 / 合规性审查 report of ``result``.

    Parameters
    ----------
    result
        A :class:`~ecogis.siting.CheckResult` (with its engine and site set for the maps and
        the 界址点; without them the report has no figures and no coordinates).
    unit
        An area unit shown before 公顷 and 亩 (e.g. ``m2``); default 公顷 and 亩 only.
    title
        The document title; default 建设项目用地预审与选址合规性审查报告.
    max_sites
        Sites given a section of their own (all sites are in the summary table).
    """
    units = _units(unit)
    u0 = area_unit(units[0]).name_zh
    counts = result.counts()
    blocks = [Block("title", title or "建设项目用地预审与选址合规性审查报告"),
              Block("kv", rows=_header(result, unit))]
    blocks.append(Block("h1", "一、审查结论汇总"))
    blocks.append(Block("p", f"本次审查建设项目 {len(result.sites)} 个，其中"
                        + "，".join(f"{VERDICT_ZH[v]} {counts[v]} 个" for v in VERDICTS)
                        + "。"))
    rows = []
    for i, s in enumerate(result.sites, start=1):
        kinds = "、".join(dict.fromkeys(h.kind_zh for h in s.hits)) or "—"
        rows.append([str(i), str(s.id), s.name or "—", s.category_zh,
                     fmt_area(s.area_m2, units[0]), fmt_area(s.area_m2, "mu"),
                     fmt_area(s.farmland_m2, units[0]), kinds, VERDICT_ZH[s.verdict]])
    blocks.append(Block("table", header=["序号", "项目编号", "项目名称", "项目类别",
                                         f"用地面积（{u0}）", "用地面积（亩）",
                                         f"占用永久基本农田（{u0}）", "涉及管控要素", "审查结论"],
                        rows=rows, numeric=(4, 5, 6)))
    if result.site_set is not None and len(result.sites) > 1:
        blocks.append(Block("figure", "图 1 项目位置总览（按审查结论着色）", site=None))
    for i in range(min(len(result.sites), max_sites)):
        blocks += _site_blocks(result, i, units, number=i + 2)
    blocks += _tail(result)
    blocks.append(Block("signature"))
    return blocks


_CN_NUM = "一二三四五六七八九十"


def _cn(n: int) -> str:
    if n <= 10:
        return _CN_NUM[n - 1]
    if n < 20:
        return "十" + _CN_NUM[n - 11]
    if n < 100:
        return _CN_NUM[n // 10 - 1] + "十" + (_CN_NUM[n % 10 - 1] if n % 10 else "")
    return str(n)


def _site_blocks(result, i: int, units: tuple[str, ...], *, number: int) -> list[Block]:
    s = result.sites[i]
    u0 = area_unit(units[0]).name_zh
    out = [Block("pagebreak"),
           Block("h1", f"{_cn(number)}、{s.name or '项目'}（{s.id}）"),
           Block("p", f"审查结论：{VERDICT_ZH[s.verdict]}", style=f"verdict-{s.verdict}"),
           Block("h2", "（一）项目基本情况")]
    geo = {"Point": "点状", "MultiPoint": "点状", "LineString": "线状",
           "MultiLineString": "线状"}.get(s.geometry_type, "面状")
    if s.radius_m:
        geo += f"（按半径 {s.radius_m:g} 米计算用地范围）"
    if s.width_m:
        geo += f"（按宽度 {s.width_m:g} 米计算用地范围）"
    kv = [["项目名称", s.name or "—"], ["项目编号", str(s.id)],
          ["项目类别", s.category_zh], ["用地形态", geo],
          ["用地面积", area_text(s.area_m2, units)]]
    d = s.extra.get("declared_area")
    if d and d.get("declared_m2") is not None:
        kv.append(["面积核对", f"界址点文件申报面积 {area_text(d['declared_m2'], units)}，"
                   f"坐标计算面积 {area_text(d['ellipsoidal_m2'], units)}，"
                   f"{'一致' if d['ok'] else '不一致，请核对界址点'}"])
    for ov in override_notes(s):
        kv.append(["规则取代", ov])
    out.append(Block("kv", rows=kv))
    pts, note = boundary_points(result, i)
    if pts:
        out.append(Block("p", "界址点坐标（" + note + "）：", style="small"))
        out.append(Block("table", header=["点号", "X（北）", "Y（东）", "备注"], rows=pts,
                         numeric=(1, 2), style="points"))
    if result.site_set is not None and result.engine is not None:
        out.append(Block("h2", "（二）位置与叠加分析图"))
        out.append(Block("figure", f"图 {number} {s.name or s.id} 与管控要素叠加图", site=i))
    out.append(Block("h2", "（三）压占情况"))
    rows = []
    fs = findings(result, i, units[0])
    for f in fs:
        if f["status"] != "涉及":
            continue
        a = f["area_m2"]
        feats = "；".join(dict.fromkeys(hit_feature_text(result, h) for h in f["hits"])) \
            or "、".join(f["features"][:6]) or "—"
        if a <= 0:  # a band around a line (河道管理范围): no area of the layer itself
            rows.append([f["name"], feats, "—", "—", "（管理范围内）"])
            continue
        rows.append([f["name"], feats, fmt_area(a, units[0]), fmt_area(a, "mu"),
                     f"{100 * a / s.area_m2:.1f}%" if s.area_m2 > 0 else "—"])
    if rows:
        out.append(Block("p", "按管控要素："))
        out.append(Block("table", header=["管控要素", "涉及要素（标识码/名称）",
                                          f"压占面积（{u0}）", "压占面积（亩）", "占项目用地"],
                         rows=rows, numeric=(2, 3, 4)))
    else:
        out.append(Block("p", "项目用地不压占生态保护红线、永久基本农田等管控要素。"))
    lu = landuse_rows(s)
    if lu:
        rows = [[r["dlbm"], r["dlmc"], fmt_area(r["area_m2"], units[0]),
                 fmt_area(r["area_m2"], "mu"), fmt_area(r["tiankan_m2"], units[0]),
                 fmt_area(r["net_m2"], units[0]), fmt_area(r["net_m2"], "mu")] for r in lu]
        tot = {k: sum(r[k] for r in lu) for k in ("area_m2", "tiankan_m2", "net_m2")}
        rows.append(["合计", "", fmt_area(tot["area_m2"], units[0]),
                     fmt_area(tot["area_m2"], "mu"), fmt_area(tot["tiankan_m2"], units[0]),
                     fmt_area(tot["net_m2"], units[0]), fmt_area(tot["net_m2"], "mu")])
        src = s.extra.get("landuse_layer")
        out.append(Block("p", "按地类（土地利用现状" + (f"，图层 {src}" if src else "") + "）："))
        out.append(Block("table", header=["地类编码", "地类名称", f"毛面积（{u0}）",
                                          "毛面积（亩）", f"田坎（{u0}）", f"净面积（{u0}）",
                                          "净面积（亩）"], rows=rows, numeric=(2, 3, 4, 5, 6)))
    else:
        out.append(Block("p", "工作空间无土地利用现状（地类）图层，未按地类统计压占面积。",
                         style="note"))
    out.append(Block("h2", "（四）审查情况"))
    for n, f in enumerate(fs, start=1):
        out.append(Block("p", f"{n}. {f['name']}：{f['text']}",
                         style="finding-" + {"涉及": "yes", "不涉及": "no"}.get(f["status"],
                                                                                 "na")))
    if s.hits:
        out.append(Block("h2", "（五）适用规则及依据"))
        rows = []
        seen = set()
        for h in s.hits:
            key = (h.rule, h.layer)
            if key in seen:
                continue
            seen.add(key)
            quote = h.citation.get("quote") or ""
            rows.append([h.rule_zh, h.kind_zh + (f"·{h.zone}" if h.zone else ""),
                         VERDICT_ZH[h.verdict], h.citation.get("text", "") +
                         (f"：「{quote}」" if quote else "")])
        out.append(Block("table", header=["规则", "管控要素", "结论", "依据"], rows=rows))
    out.append(Block("h2", "（六）审查意见" if s.hits else "（五）审查意见"))
    out.append(Block("p", opinion(s), style=f"verdict-{s.verdict}"))
    if s.verdict == "allowed" or not s.hits:
        ok = [f["name"] for f in fs if f["status"] == "不涉及"]
        if ok:
            out.append(Block("p", "项目用地不涉及" + "、".join(
                n for n in ok if n not in ("永久基本农田", "耕地"))
                + ("，不占用永久基本农田" if "永久基本农田" in ok else "") + "。"))
    procs = procedures(s)
    if procs:
        out.append(Block("p", "须办理的程序："))
        out += [Block("p", f"（{k}）{p}") for k, p in enumerate(procs, start=1)]
    return out


def _tail(result) -> list[Block]:
    out: list[Block] = []
    rows = []
    by_kind: dict[str, list[str]] = {}
    for n in result.not_evaluated:
        by_kind.setdefault(n["kind"], []).append(n["rule"])
    for k, v in by_kind.items():
        rows.append(["未评估规则", f"工作空间缺少 {k} 类图层，规则 {', '.join(v)} 未能评估"
                                  "（结论可能偏宽）"])
    for name, p in (result.rulebook.get("params") or {}).items():
        src = "规划原文给出" if p["given"] else "ecogis 默认值（原文未给出）"
        rows.append([f"参数 {name}", f"{p['value']} {p['unit']}；{src}；{p['note']}"])
    for e in getattr(result, "errors", None) or []:
        rows.append(["未审查项目", f"{e.get('id')}：{e.get('error')}"])
    for n in result.notes:
        rows.append(["提示", n])
    if rows:
        out += [Block("pagebreak"), Block("h1", "附：说明"),
                Block("table", header=["事项", "内容"], rows=rows, style="notes")]
    return out


SIGNATURE_ROWS = [("审查人（签字）", "日期"), ("复核人（签字）", "日期"),
                  ("科室负责人（签字）", "日期"), ("审查单位（盖章）", "日期")]
