"""The tables of each command, for CSV and Excel: built from result objects, areas in m².

Each ``*_book`` function takes what the command computed (rows, result dataclasses) and
returns a :class:`~ecogis.reports.model.Workbook`: Chinese headers, units in the headers,
公顷 and 亩 beside the unit asked for, shares in percent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecogis.reports.model import Col, Table, Workbook, area_cols, rows_of, units_for
from ecogis.units import area_unit


def _m2(value: float | None, unit: str) -> float | None:
    return None if value is None else float(value) * area_unit(unit).m2


# ------------------------------------------------------------------------------- areas
def areas_book(rows: Sequence[Any], by_rows: Sequence[Any] = (), *, unit: str = "km2",
               by: str | None = None, method_label: str = "", target: str = "",
               landuse_rows: Sequence[Any] = ()) -> Workbook:
    """Tables of ``ecogis areas``: one row per layer; with ``--by``, a zone × layer table.

    ``rows`` are :class:`~ecogis.areas.LayerAreaRow`, ``by_rows``
    :class:`~ecogis.areas.ZoneAreaRow` (their ``area`` in ``unit``; ``area_m2`` is used).
    """
    data = []
    for r in rows_of(rows):
        raw = _m2(r["area_raw_sum"], r["unit"])
        data.append({**r, "area_raw_sum_m2": raw,
                     "self_overlap_m2": max(0.0, (raw or 0.0) - r["area_m2"])})
    units = units_for(unit)
    layers = Table("图层面积", "各图层面积（融合后）", [
        Col("layer", "图层"), Col("kind_name", "类型"), Col("features", "要素数", "int"),
        *area_cols("area_m2", "面积", units), *area_cols("area_raw_sum_m2", "要素面积之和", units),
        *area_cols("self_overlap_m2", "自重叠", units), Col("crs", "坐标系"),
        Col("method", "方法")], data)
    book = Workbook([layers], notes=[("对象", target), ("面积方法", method_label),
                                     ("单位", "、".join(area_unit(u).name_zh for u in units)),
                                     ("说明", "面积为融合后面积（图层自身重叠只计一次）；"
                                      "要素面积之和为逐要素相加，二者之差为自重叠")])
    if by_rows:
        zrows = rows_of(by_rows)
        book.tables += zone_tables(zrows, data, unit=unit, by=by or zrows[0]["by"])
    if landuse_rows:
        book.tables.append(Table("地类面积", "三调地类面积（图斑面积、扣除田坎、地类面积）", [
            Col("layer", "图层"), Col("dlbm", "地类编码"), Col("dlmc", "地类名称"),
            Col("parcels", "图斑数", "int"), *area_cols("gross_m2", "图斑面积", units),
            *area_cols("deducted_m2", "扣除面积", units), *area_cols("added_m2", "计入田坎", units),
            *area_cols("area_m2", "地类面积", units), Col("method", "方法")],
            rows_of(landuse_rows)))
    return book


def zone_tables(zrows: list[dict[str, Any]], layer_rows: list[dict[str, Any]], *, unit: str,
                by: str) -> list[Table]:
    """A zone × layer table of areas in ``unit`` (with a 合计 row), and the long table."""
    label = {r["layer"]: r.get("kind_name") or r["layer"] for r in layer_rows}
    dup = {v for v in label.values() if list(label.values()).count(v) > 1}
    zrows = [{**z, "zone": OUTSIDE if z["zone"] == "(outside)" else z["zone"]} for z in zrows]
    layers = list(dict.fromkeys(z["layer"] for z in zrows))
    zones = list(dict.fromkeys(z["zone"] for z in zrows))
    grid: dict[str, dict[str, Any]] = {z: {"zone": z} for z in zones}
    for z in zrows:
        grid[z["zone"]][z["layer"]] = z["area_m2"]
    total: dict[str, Any] = {"zone": "合计"}
    for lyr in layers:
        total[lyr] = sum(float(grid[z].get(lyr) or 0.0) for z in zones)
    cols = [Col("zone", "乡镇" if by in ("admin", "towns") else by)]
    for lyr in layers:
        head = label.get(lyr, lyr)
        head = f"{head}·{lyr}" if head in dup or head == lyr else head
        cols.append(Col(lyr, head, "area", unit, csv_name=f"{lyr}_{area_unit(unit).id}"))
    pivot = Table(f"分{_zone_word(by)}面积", f"各{_zone_word(by)}各图层面积", cols,
                  [grid[z] for z in zones] + [total], key=f"by_{_key(by)}")
    long = Table(f"分{_zone_word(by)}明细", "图层 × 分区面积与占比", [
        Col("layer", "图层"), Col("zone", _zone_word(by)), *area_cols("area_m2", "面积",
                                                                     units_for(unit)),
        Col("share_of_layer", "占图层", "percent")], zrows, key=f"by_{_key(by)}_long")
    return [pivot, long]


#: the zone of area outside every zone of the --by layer
OUTSIDE = "分区外"


def _zone_word(by: str) -> str:
    return "乡镇" if by in ("admin", "towns", "town") else str(by)


def _key(by: str) -> str:
    return "".join(ch if ch.isalnum() and ch.isascii() else "_" for ch in str(by)) or "zone"


# ----------------------------------------------------------------------------- overlaps
def overlaps_book(layer_rows: Sequence[Mapping[str, Any]], matrix: Sequence[Any],
                  summary: Sequence[Any], conflicts: Sequence[Mapping[str, Any]], *,
                  unit: str, names: Sequence[str], by_matrix: Sequence[Any] = (),
                  by_rules: Sequence[Any] = (), zone_name: str | None = None,
                  method_label: str = "", plane: str = "") -> Workbook:
    """Tables of ``ecogis overlaps``: layers, the pair matrix, conflict rules and polygons."""
    units = units_for(unit)
    order = {n: i for i, n in enumerate(names)}
    mrows = rows_of(matrix)
    pairs = [r for r in mrows if r["a"] != r["b"] and order.get(r["a"], 0) < order.get(r["b"], 0)]
    tables = [
        Table("两两叠加", "图层两两叠加面积", [
            Col("a", "图层A", csv_name="a"), Col("b", "图层B", csv_name="b"),
            *area_cols("area_m2", "重叠面积", units),
            *(area_cols("area_raw_sum_m2", "逐要素重叠之和", units)
              if any(r.get("area_raw_sum_m2") is not None for r in pairs) else []),
            Col("share_a", "占A", "percent"), Col("share_b", "占B", "percent")], pairs),
        Table("图层面积", "各图层面积（融合后）", [
            Col("name", "图层"), Col("kind_name", "类型"), Col("features", "要素数", "int"),
            *area_cols("area_m2", "面积", units)], [dict(r) for r in layer_rows], key="layers"),
        Table("冲突规则", "三线冲突规则（layers/conflicts.toml）", [
            Col("rule", "规则"), Col("name_zh", "冲突"), Col("severity_zh", "程度"),
            Col("a_layer", "图层A"), Col("b_layer", "图层B"), Col("conflicts", "图斑数", "int"),
            *area_cols("area_m2", "冲突面积", units), Col("source", "依据"),
            Col("article", "条款")], rows_of(summary), key="rules"),
    ]
    crow = []
    for r in conflicts:
        d = dict(r)
        d["a_feature"] = _feature_label(r.get("a_name"), r.get("a_fid"))
        d["b_feature"] = _feature_label(r.get("b_name"), r.get("b_fid"))
        crow.append(d)
    ccols = [Col("rule_name", "冲突"), Col("severity_zh", "程度"), Col("a_layer", "图层A"),
             Col("a_feature", "要素A（名称/编号）"), Col("b_layer", "图层B"),
             Col("b_feature", "要素B（名称/编号）"), *area_cols("area_m2", "面积", units),
             Col("lon", "经度", "number", digits=6), Col("lat", "纬度", "number", digits=6)]
    if crow and "zone" in crow[0]:
        ccols.append(Col("zone", zone_name or "分区"))
    tables.append(Table("冲突图斑", "冲突图斑", ccols, crow, key="conflicts"))
    if by_rules:
        zw = _zone_word(zone_name or "zone")
        tables.append(Table(f"分{zw}冲突", f"各{zw}冲突面积", [
            Col("zone", zw), Col("rule", "规则"), Col("severity", "程度"),
            Col("a_layer", "图层A"), Col("b_layer", "图层B"),
            *area_cols("area_m2", "冲突面积", units)], rows_of(by_rules), key="by_zone"))
    if by_matrix:
        zw = _zone_word(zone_name or "zone")
        tables.append(Table(f"分{zw}叠加", f"各{zw}图层两两叠加", [
            Col("zone", zw), Col("a", "图层A"), Col("b", "图层B"),
            *area_cols("area_m2", "重叠面积", units), Col("share_a", "占A", "percent")],
            [r for r in rows_of(by_matrix) if r["a"] != r["b"]], key="by_zone_matrix"))
    return Workbook(tables, notes=[("面积方法", method_label), ("计算平面", plane),
                                   ("单位", "、".join(area_unit(u).name_zh for u in units))])


def _feature_label(name: Any, fid: Any) -> str:
    if name is not None and str(name) not in ("", "nan", "None"):
        return str(name)
    return "" if fid is None else f"#{fid}"


# -------------------------------------------------------------------------------- check
def check_book(result, *, unit: str = "m2") -> Workbook:
    """Tables of ``ecogis check``: sites, hits (features by BSM/名称), 压占 by 地类."""
    from ecogis.reports.review import hit_feature_text, landuse_rows

    units = units_for(unit)
    sites = []
    for s in result.sites:
        sites.append({"id": str(s.id), "name": s.name or "", "category_zh": s.category_zh,
                      "verdict_zh": _verdict_zh(s.verdict), "verdict": s.verdict,
                      "hits": len(s.hits), "area_m2": s.area_m2, "farmland_m2": s.farmland_m2,
                      "compensation_m2": s.compensation_m2})
    hits = []
    for s in result.sites:
        for h in s.hits:
            hits.append({"site": str(s.id), "kind_zh": h.kind_zh, "layer": h.layer,
                         "features": hit_feature_text(result, h), "zone": h.zone or "",
                         "rule_zh": h.rule_zh, "rule": h.rule,
                         "verdict_zh": _verdict_zh(h.verdict), "overlap_m2": h.overlap_m2,
                         "ratio": h.overlap_ratio, "distance_m": h.distance_m,
                         "procedures": "；".join(h.procedures),
                         "citation": h.citation.get("text", "")})
    lu = []
    for s in result.sites:
        for r in landuse_rows(s):
            lu.append({"site": str(s.id), **r})
    tables = [
        Table("审查结论", "各项目审查结论", [
            Col("id", "项目编号", csv_name="id"), Col("name", "项目名称"),
            Col("category_zh", "项目类别"), Col("verdict_zh", "审查结论"),
            Col("verdict", "结论代码"), Col("hits", "触发规则数", "int"),
            *area_cols("area_m2", "用地面积", units),
            *area_cols("farmland_m2", "占用永久基本农田", units),
            *area_cols("compensation_m2", "需补划", units)], sites),
        Table("触发规则", "各项目触发的规则及依据", [
            Col("site", "项目编号"), Col("kind_zh", "管控要素"), Col("layer", "图层"),
            Col("features", "涉及要素（标识码/名称）"), Col("zone", "分区/级别"),
            Col("rule_zh", "规则"), Col("rule", "规则编号"), Col("verdict_zh", "结论"),
            *area_cols("overlap_m2", "压占面积", units), Col("ratio", "占项目", "percent"),
            Col("distance_m", "距离（米）", "number", digits=1),
            Col("procedures", "需办理程序"), Col("citation", "依据")], hits, key="hits"),
    ]
    if lu:
        tables.append(Table("压占地类", "各项目压占地类（毛面积、田坎、净面积）", [
            Col("site", "项目编号"), Col("dlbm", "地类编码 DLBM"), Col("dlmc", "地类名称 DLMC"),
            *area_cols("area_m2", "毛面积", units), *area_cols("tiankan_m2", "田坎", units),
            *area_cols("net_m2", "净面积", units)], lu, key="landuse"))
    rb = result.rulebook
    notes = [("工作空间", str(result.workspace or "")),
             ("规则库", " + ".join(rb.get("files", []))),
             ("面积方法", result.method), ("单位", "、".join(area_unit(u).name_zh for u in units))]
    notes += [("提示", n) for n in result.notes]
    return Workbook(tables, notes=notes)


def _verdict_zh(v: str) -> str:
    from ecogis.rules import VERDICT_ZH

    return VERDICT_ZH.get(v, v)


# --------------------------------------------------------------------------------- diff
def diff_book(result, *, unit: str = "km2", lost_names: Sequence[str] | None = None,
              gained_names: Sequence[str] | None = None) -> Workbook:
    """Tables of ``ecogis diff``: the balance, nature changes, 占补平衡, zones, checks, parts."""
    units = units_for(unit)
    noise = result.noise_summary()
    summary = [
        {"what": "变更前", "area_m2": result.before_m2, "parts": None},
        {"what": "变更后", "area_m2": result.after_m2, "parts": None},
        {"what": "减少", "area_m2": result.lost_m2, "parts": len(result.lost)},
        {"what": "增加", "area_m2": result.gained_m2, "parts": len(result.gained)},
        {"what": "净变化", "area_m2": result.net_m2, "parts": None},
        {"what": "数字化误差（不计入）", "area_m2": noise["area_m2"], "parts": noise["count"]},
    ]
    tables = [Table("面积变化", f"{result.kind_name} 面积变化", [
        Col("what", "项目"), *area_cols("area_m2", "面积", units),
        Col("parts", "图斑数", "int")], summary)]
    if result.field is not None:
        tables.append(Table("性质变化", f"性质变化（{result.field}）", [
            Col("from", "变更前"), Col("to", "变更后"), *area_cols("area_m2", "面积", units),
            Col("parts", "图斑数", "int")],
            [{"from": c.from_value or "", "to": c.to_value or "", "area_m2": c.area_m2,
              "parts": c.parts} for c in result.nature_changes], key="nature"))
    c = result.compensation
    if c is not None:
        tables.append(Table("占补平衡", "占补平衡", [
            Col("what", "项目"), *area_cols("area_m2", "面积", units),
            Col("grade", f"平均质量等别（{c.grade_field or '—'}）", "number", digits=3)],
            [{"what": "占用", "area_m2": c.lost_m2, "grade": c.lost_mean_grade},
             {"what": "补划", "area_m2": c.gained_m2, "grade": c.gained_mean_grade},
             {"what": "差额", "area_m2": c.balance_m2, "grade": None}], key="compensation"))
    if result.by:
        tables.append(Table("分区变化", f"各{result.by_layer or '分区'}面积变化", [
            Col("zone", result.by_layer or "分区"), *area_cols("lost_m2", "减少", units),
            *area_cols("gained_m2", "增加", units), *area_cols("net_m2", "净变化", units)],
            [{"zone": z.zone, "lost_m2": z.lost_m2, "gained_m2": z.gained_m2,
              "net_m2": z.net_m2} for z in result.by], key="by_zone"))
    tables.append(Table("审查", "规则审查", [
        Col("check", "检查项"), Col("ok", "结果"), Col("message", "说明"),
        Col("citations", "依据")],
        [{"check": k.check, "ok": "通过" if k.ok else "不通过", "message": k.message,
          "citations": "；".join(k.citations)} for k in result.checks], key="checks"))
    for side, names in (("lost", lost_names), ("gained", gained_names)):
        gdf = getattr(result, side)
        rows = [{"part": i + 1, "area_m2": float(a),
                 "names": (names[i] if names is not None and i < len(names) else "")}
                for i, a in enumerate(gdf["area_m2"].to_numpy() if len(gdf) else [])]
        tables.append(Table("减少图斑" if side == "lost" else "增加图斑",
                            "减少的图斑" if side == "lost" else "增加的图斑", [
                                Col("part", "序号", "int"),
                                Col("names", "涉及要素（标识码/名称）"),
                                *area_cols("area_m2", "面积", units)], rows, key=side))
    return Workbook(tables, notes=[
        ("变更前", result.before_name), ("变更后", result.after_name),
        ("面积方法", result.method_label), ("结论", "通过" if result.verdict == "pass"
                                            else "不通过")])


# ---------------------------------------------------------------------------- reconcile
def reconcile_book(result) -> Workbook:
    """The table of ``ecogis reconcile``: declared figure, measured value, difference, status."""
    rows = []
    for r in result.rows:
        d = r.as_dict()
        d["layers"] = "；".join(d.get("layers") or [])
        rows.append(d)
    t = Table("规划数据核对", f"{result.region_name} 规划数据核对", [
        Col("id", "指标", csv_name="id"), Col("name_zh", "名称"), Col("basis", "口径"),
        Col("layer_kind", "图层类型"), Col("comparator", "比较"),
        Col("declared", "规划值", "number", digits=4), Col("declared_unit", "规划值单位"),
        Col("measured", "实测值", "number", digits=4),
        Col("difference", "差值", "number", digits=4),
        Col("relative_difference", "相对差", "percent"), Col("tolerance", "容差", "percent"),
        *area_cols("declared_m2", "规划面积", units_for("m2")),
        *area_cols("measured_m2", "实测面积", units_for("m2")),
        Col("status", "状态"), Col("source", "出处"), Col("line", "行号", "int"),
        Col("quote", "原文"), Col("layers", "图层"), Col("note", "说明")], rows)
    return Workbook([t], notes=[("规划", str(result.plan)), ("面积方法", result.method_label)])


# --------------------------------------------------------------------------- indicators
def indicators_book(rows: Sequence[Any], *, plan: str | None = None) -> Workbook:
    """The table of ``ecogis indicators``: value, baseline, target and status per indicator."""
    data = []
    for r in rows:
        d = rows_of([r])[0]
        d["target_text"] = r.target_text
        data.append(d)
    t = Table("指标", "空间指标", [
        Col("id", "指标编号", csv_name="id"), Col("name_zh", "指标"),
        Col("value", "现值", "number", digits=2), Col("unit", "单位"),
        Col("baseline", "基期值", "number", digits=2), Col("baseline_year", "基期年", "int"),
        Col("target_text", "目标"), Col("target", "目标值", "number", digits=2),
        Col("target_year", "目标年", "int"), Col("status", "状态"), Col("method", "方法"),
        Col("note", "说明")], data)
    return Workbook([t], notes=[("规划", str(plan or "（无）")),
                                ("方法", "面积：CGCS2000 椭球面积；长度：大地线长度")])
