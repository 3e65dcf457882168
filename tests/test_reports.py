"""Deliverables: CSV (BOM, one table per file), Excel, and the 用地预审 report in Word and PDF.

Figures in the files are compared with the JSON output of the same command, or with areas
computed here with plain shapely/pyproj. Tests that need Chromium or poppler skip when absent
unless ECOGIS_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pytest import approx

from ecogis.rules import VERDICT_ZH, load_rulebook
from ecogis.siting import SitingEngine

GK = 4544  # CGCS2000 3-degree GK, CM 105°E, no zone prefix
MU = 10_000 / 15
REQUIRE_BROWSER = os.environ.get("ECOGIS_REQUIRE_BROWSER") == "1"


def _need(tool: str) -> str:
    path = shutil.which(tool) or (tool if os.path.isabs(tool) and os.access(tool, os.X_OK)
                                  else None)
    if path is None:
        if REQUIRE_BROWSER:
            pytest.fail(f"{tool} is required (ECOGIS_REQUIRE_BROWSER=1)")
        pytest.skip(f"{tool} not installed")
    return path


@pytest.fixture(scope="module")
def origin():
    g = gpd.read_file(Path(__file__).parent / "data" / "admin_units.gpkg")
    anju = g[g["name"] == "安居区"].to_crs(GK).geometry.iloc[0]
    c = shapely.get_point(shapely.maximum_inscribed_circle(anju, 10.0), 0)
    return round(c.x, -2), round(c.y, -2)


def _box(o, x0, y0, x1, y1):
    return shapely.box(o[0] + x0, o[1] + y0, o[0] + x1, o[1] + y1)


@pytest.fixture(scope="module")
def world(origin):
    """Control lines with BSM/名称: a redline lying on farmland, farmland parcels, a UGB."""
    o = origin
    b = lambda *a: _box(o, *a)  # noqa: E731
    farm = [b(0, 0, 1000, 1000), b(1000, 0, 2000, 1000), b(2000, 0, 3000, 1000)]
    return {
        "redline": ("redline", gpd.GeoDataFrame(
            {"name": ["琼江红线"], "bsm": ["STBHHX510904001"]}, geometry=[b(200, 200, 800, 800)],
            crs=GK)),
        "farmland": ("farmland", gpd.GeoDataFrame(
            {"bsm": ["YJJBNT0001", "YJJBNT0002", "YJJBNT0003"], "land_code": ["0101"] * 3},
            geometry=farm, crs=GK)),
        "ugb": ("ugb", gpd.GeoDataFrame({"name": ["中心城区"]}, geometry=[b(5000, 0, 7000, 2000)],
                                        crs=GK)),
    }


@pytest.fixture(scope="module")
def sites(origin):
    o = origin
    return gpd.GeoDataFrame(
        {"id": ["S1", "S2", "S3"], "name": ["拟建厂房", "拟建仓库", "拟建学校"],
         "category": ["industrial", "industrial", "urban"]},
        geometry=[_box(o, 300, 300, 500, 500), _box(o, 1200, 100, 1500, 400),
                  _box(o, 5200, 200, 5600, 600)], crs=GK)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, world, sites, origin):
    from ecogis.workspace import Workspace

    path = tmp_path_factory.mktemp("reports") / "ws.gpkg"
    ws = Workspace.open(path, create=True)
    # towns: a west and an east one, so the zone × layer table has two rows of figures
    towns = gpd.GeoDataFrame({"name": ["西镇", "东镇"]},
                             geometry=[_box(origin, -100, -100, 1500, 1100),
                                       _box(origin, 1500, -100, 8000, 2100)], crs=GK)
    with ws.transaction():
        for name, (kind, gdf) in world.items():
            ws.write(name, gdf, kind)
        ws.write("towns", towns, "admin")
        ws.set_meta(region="anju")
    sites_path = path.with_name("sites.gpkg")
    sites.to_file(sites_path, layer="sites")
    return path, sites_path


def _landuse(site_geom):
    """压占 by 地类 computed here (planar GK areas): 水田 left half, 旱地 right, 8 % 田坎."""
    minx, miny, maxx, maxy = site_geom.bounds
    mid = (minx + maxx) / 2
    out = []
    for code, name, g in (("0101", "水田", shapely.box(minx - 1, miny - 1, mid, maxy + 1)),
                          ("0103", "旱地", shapely.box(mid, miny - 1, maxx + 1, maxy + 1))):
        a = shapely.area(shapely.intersection(site_geom, g))
        tk = 0.08 * a
        out.append({"dlbm": code, "dlmc": name, "area_m2": a, "net_m2": a - tk, "tiankan_m2": tk,
                    "area_ha": a / 1e4, "area_mu": a / MU})
    return out


@pytest.fixture(scope="module")
def result(world, sites):
    """The check of the three sites, with the 地类 of each site as ``ecogis check`` adds it."""
    r = SitingEngine(world, load_rulebook("anju")).check(sites)
    for s, g in zip(r.sites, sites.geometry, strict=True):
        s.extra["landuse"] = _landuse(g)
        s.extra["landuse_layer"] = "dltb"
    r.workspace = "ws.gpkg"
    return r


# ---------------------------------------------------------------------------- CSV / xlsx
def _read_csv(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} has no UTF-8 BOM"
    return list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))


def test_areas_csv_one_table_per_file_bom_and_rounding(workspace, run_cli, tmp_path, world):
    ws, _ = workspace
    code, out, err = run_cli("areas", ws, "--format", "json", "--unit", "ha")
    assert code == 0, err
    doc = json.loads(out)
    out_csv = tmp_path / "面积.csv"
    code, out, err = run_cli("areas", ws, "--by", "ugb", "--format", "csv", "-o", out_csv,
                             "--unit", "ha")
    assert code == 0, err
    main, second = _read_csv(out_csv), _read_csv(tmp_path / "面积.by_ugb.csv")
    text = out_csv.read_text(encoding="utf-8-sig") + (tmp_path / "面积.by_ugb.csv").read_text(
        encoding="utf-8-sig")
    assert not re.search(r"e-\d", text) and not re.search(r"\d\.\d{7,}", text)
    by_layer = {r["layer"]: r for r in main}
    for lyr in doc["layers"]:
        row = by_layer[lyr["layer"]]
        assert float(row["area_ha"]) == approx(lyr["area_m2"] / 1e4, abs=5e-5)
        assert float(row["area_mu"]) == approx(lyr["area_m2"] / MU, abs=5e-3)
        assert float(row["self_overlap_ha"]) >= 0
    # the second table is its own file: zone × layer, in the unit asked for
    assert set(second[0]) >= {"zone", "farmland_ha", "redline_ha"}
    farm_in_ugb = {r["zone"]: r for r in second}
    assert float(farm_in_ugb["中心城区"]["farmland_ha"]) == 0.0
    # the redline lies outside the UGB: its row 分区外 and the 合计 hold all of it (600 m × 600 m)
    assert float(farm_in_ugb["分区外"]["redline_ha"]) == approx(36.0, rel=2e-3)
    assert float(farm_in_ugb["合计"]["redline_ha"]) == approx(
        by_layer["redline"]["area_ha"] and float(by_layer["redline"]["area_ha"]), abs=1e-4)


def test_areas_xlsx_zone_by_layer_matches_json(workspace, run_cli, tmp_path):
    import openpyxl

    ws_path, _ = workspace
    if True:
        code, out, err = run_cli("areas", ws_path, "--by", "admin", "--format", "json",
                                 "--unit", "mu")
        assert code == 0, err
        doc = json.loads(out)
        path = tmp_path / "areas.xlsx"
        code, _, err = run_cli("areas", ws_path, "--by", "admin", "--format", "xlsx", "-o", path,
                               "--unit", "mu")
        assert code == 0, err
        wb = openpyxl.load_workbook(path)
        assert wb.sheetnames[:3] == ["图层面积", "分乡镇面积", "分乡镇明细"]
        sh = wb["分乡镇面积"]
        header = [c.value for c in sh[1]]
        assert header[0] == "乡镇" and "永久基本农田（亩）" in header
        col = header.index("永久基本农田（亩）")
        cells = {r[0].value: r[col] for r in sh.iter_rows(min_row=2)}
        by = {(r["zone"], r["layer"]): r for r in doc["by"]}
        for town in ("西镇", "东镇"):
            assert cells[town].value == approx(by[(town, "farmland")]["area"], abs=0.005)
            assert cells[town].number_format == "#,##0.00"
            assert isinstance(cells[town].value, float)
        # independent: the west town holds 1500 m of the 3000 m farmland strip, 1000 m deep
        assert by[("西镇", "farmland")]["area_m2"] == approx(1.5e6, rel=2e-3)
        layers = wb["图层面积"]
        head = [c.value for c in layers[1]]
        assert "面积（公顷）" in head and "面积（亩）" in head
        long = wb["分乡镇明细"]
        lh = [c.value for c in long[1]]
        share = lh.index("占图层（%）")
        row = next(r for r in long.iter_rows(min_row=2, values_only=True)
                   if r[0] == "farmland" and r[1] == "西镇")
        assert row[share] == approx(100 * by[("西镇", "farmland")]["share_of_layer"], abs=0.005)



@pytest.mark.parametrize("command", ["overlaps", "reconcile", "indicators"])
def test_xlsx_of_other_commands_matches_json(workspace, run_cli, tmp_path, command):
    import openpyxl

    ws, _ = workspace
    args = [command, ws] + (["--plan", "anju"] if command != "overlaps" else ["--unit", "ha"])
    code, out, err = run_cli(*args, "--format", "json")
    doc = json.loads(out)
    path = tmp_path / f"{command}.xlsx"
    code2, _, err = run_cli(*args, "--format", "xlsx", "-o", path)
    assert code2 == code, err
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[-1] == "说明"
    first = wb[wb.sheetnames[0]]
    header = [c.value for c in first[1]]
    rows = list(first.iter_rows(min_row=2, values_only=True))
    if command == "overlaps":
        pairs = {(r["a"], r["b"]): r for r in doc["matrix"] if r["a"] != r["b"]}
        ha = header.index("重叠面积（公顷）")
        for r in rows:
            assert r[ha] == approx(pairs[(r[0], r[1])]["area_m2"] / 1e4, abs=5e-5)
        assert any(r[0] == "redline" and r[1] == "farmland" or r[0] == "farmland"
                   and r[1] == "redline" for r in rows)
    elif command == "reconcile":
        ids = header.index("指标")
        meas = header.index("实测面积（公顷）")
        want = {r["id"]: r for r in doc["rows"]}
        for r in rows:
            m2 = want[r[ids]]["measured_m2"]
            assert (r[meas] is None) == (m2 is None)
            if m2 is not None:
                assert r[meas] == approx(m2 / 1e4, abs=5e-5)
    else:
        want = {r["id"]: r for r in doc["indicators"]}
        val = header.index("现值")
        for r in rows:
            v = want[r[0]]["value"]
            assert (r[val] is None) == (v is None)
            if v is not None:
                assert r[val] == approx(v, abs=0.005)


def test_check_xlsx_csv_and_unit(workspace, run_cli, tmp_path):
    import openpyxl

    ws, sites = workspace
    code, out, err = run_cli("check", ws, sites, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    code, table, _ = run_cli("check", ws, sites, "--unit", "ha")
    for s in doc["sites"]:
        line = next(ln for ln in table.splitlines() if ln.startswith(s["id"] + " "))
        assert f"{s['area_m2'] / 1e4:.4f}" in line
    path = tmp_path / "check.xlsx"
    assert run_cli("check", ws, sites, "--format", "xlsx", "-o", path)[0] == 0
    wb = openpyxl.load_workbook(path)
    sh = wb["审查结论"]
    header = [c.value for c in sh[1]]
    got = {r[0]: r for r in sh.iter_rows(min_row=2, values_only=True)}
    for s in doc["sites"]:
        r = got[s["id"]]
        assert r[header.index("审查结论")] == s["verdict_zh"]
        assert r[header.index("用地面积（公顷）")] == approx(s["area_m2"] / 1e4, abs=5e-5)
        assert r[header.index("用地面积（亩）")] == approx(s["area_m2"] / MU, abs=5e-3)
        assert r[header.index("占用永久基本农田（亩）")] == approx(s["farmland_m2"] / MU,
                                                                   abs=5e-3)
    hits = wb["触发规则"]
    hh = [c.value for c in hits[1]]
    feats = [r[hh.index("涉及要素（标识码/名称）")] for r in hits.iter_rows(min_row=2,
                                                                        values_only=True)]
    assert any("STBHHX510904001" in f for f in feats)  # named by BSM, not by row id
    assert any("YJJBNT0002" in f for f in feats)
    out_csv = tmp_path / "check.csv"
    assert run_cli("check", ws, sites, "--format", "csv", "-o", out_csv)[0] == 0
    assert {r["id"] for r in _read_csv(out_csv)} == {"S1", "S2", "S3"}
    assert (tmp_path / "check.hits.csv").is_file()
    for fmt in ("xlsx", "docx", "pdf"):
        code, _, err = run_cli("check", ws, sites, "--format", fmt)
        assert code == 2 and "--output" in err


# ------------------------------------------------------------------------------- report
def test_review_findings_name_each_control_line(result):
    from ecogis.reports.review import FINDING_ORDER, findings

    s1 = findings(result, 0)
    assert [f["kind"] for f in s1][:3] == [k for k, _ in FINDING_ORDER][:3]
    red = next(f for f in s1 if f["kind"] == "redline")
    assert red["status"] == "涉及" and "STBHHX510904001" in red["text"]
    s3 = findings(result, 2)
    assert result.sites[2].verdict == "allowed"
    by = {f["kind"]: f for f in s3}
    assert by["redline"]["status"] == "不涉及" and "不涉及生态保护红线" in by["redline"]["text"]
    assert "不占用永久基本农田" in by["farmland"]["text"]
    assert by["ugb"]["status"] == "涉及"  # a school inside the UGB: 涉及, with no rule hit


def test_map_draws_redline_over_farmland(result):
    from ecogis.reports.figure import scene_png, scene_svg, site_scene

    scene = site_scene(result, 0)
    order = [sh.label.split("（")[0] for sh in sorted(scene.shapes, key=lambda s: s.z)]
    assert order.index("生态保护红线") > order.index("永久基本农田")
    # context: the window reaches past the site on every side, and the layers fill it
    site = result.site_set.geoms[0]
    win = shapely.box(*scene.window)
    assert win.buffer(-0.5 * np.sqrt(site.area)).contains(site)
    farm = next(sh for sh in scene.shapes if sh.label.startswith("永久基本农田"))
    assert shapely.area(farm.geom) == approx(win.area, rel=1e-6)  # farmland under all of it
    svg = scene_svg(scene)
    red, farm_col = "#d7191c", "#f4d35e"
    assert svg.index(f'fill="{red}"') > svg.index(f'fill="{farm_col}"')
    assert ">N<" in svg and "米</text>" in svg
    png = scene_png(scene, width=400)
    assert png.startswith(b"\x89PNG")


def _docx_text(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.append("\t".join(c.text for c in row.cells))
    return "\n".join(parts)


def test_docx_report_figures_match_the_check(result, tmp_path):
    import docx
    from docx.oxml.ns import qn

    from ecogis.reports.docx import write_docx

    path = write_docx(result, tmp_path / "审查.docx")
    doc = docx.Document(path)
    sec = doc.sections[0]
    assert (sec.page_width.cm, sec.page_height.cm) == (approx(21.0, abs=0.01),
                                                      approx(29.7, abs=0.01))
    text = _docx_text(doc)
    summary = doc.tables[1]
    head = [c.text for c in summary.rows[0].cells]
    assert head[:4] == ["序号", "项目编号", "项目名称", "项目类别"]
    d = {s["id"]: s for s in result.as_dict()["sites"]}
    for row in summary.rows[1:]:
        cells = [c.text for c in row.cells]
        s = d[cells[1]]
        assert float(cells[4].replace(",", "")) == approx(s["area_m2"] / 1e4, abs=5e-5)
        assert float(cells[5].replace(",", "")) == approx(s["area_m2"] / MU, abs=5e-3)
        assert cells[8] == s["verdict_zh"]
    for s in result.sites:  # every site has its section, the allowed one too
        assert f"{s.name}（{s.id}）" in text
    assert "项目用地不涉及生态保护红线" in text and "不占用永久基本农田" in text
    assert "审查人（签字）" in text and "审查意见" in text
    # 界址点: a box has 4 corners, northing first
    pts = [t for t in doc.tables if t.rows[0].cells[0].text == "点号"]
    assert len(pts) == 3 and all(len(t.rows) == 5 for t in pts)
    x0, y0 = result.site_set.source[0].exterior.coords[0]
    first = [c.text for c in pts[0].rows[1].cells]
    assert float(first[1].replace(",", "")) == approx(y0, abs=1e-3)
    assert float(first[2].replace(",", "")) == approx(x0, abs=1e-3)
    # 压占 by 地类: gross, 田坎 and net, as computed independently
    lu = [t for t in doc.tables if t.rows[0].cells[0].text == "地类编码"]
    assert len(lu) == 3
    want = result.sites[0].extra["landuse"]
    for row, w in zip(lu[0].rows[1:3], want, strict=True):
        cells = [c.text for c in row.cells]
        assert cells[:2] == [w["dlbm"], w["dlmc"]]
        assert float(cells[2]) == approx(w["area_m2"] / 1e4, abs=5e-5)
        assert float(cells[4]) == approx(w["tiankan_m2"] / 1e4, abs=5e-5)
        assert float(cells[6].replace(",", "")) == approx(w["net_m2"] / MU, abs=5e-3)
    assert "合计" in [r.cells[0].text for r in lu[0].rows]
    # Chinese runs carry an East Asian font; maps are embedded pictures
    fonts = {r._element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))
             for p in doc.paragraphs for r in p.runs
             if r._element.rPr is not None and r._element.rPr.find(qn("w:rFonts")) is not None}
    assert fonts & {"Noto Serif CJK SC", "Noto Sans CJK SC"}
    assert len(doc.inline_shapes) == 4  # overview + one per site
    assert "#0" not in text and "#1" not in text  # features by BSM/名称, not row ids


def test_docx_missing_python_docx_names_the_extra(result, tmp_path, monkeypatch):
    import builtins

    from ecogis.reports.docx import write_docx

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name == "docx" or name.startswith("docx."):
            raise ImportError("No module named 'docx'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ValueError, match=r"pip install 'ecogis\[reports\]'"):
        write_docx(result, tmp_path / "x.docx")


def test_html_report_prints_a4_with_its_maps(result):
    from ecogis.reports.html import render_review_html

    page = render_review_html(result, interactive=False)
    assert "size:A4" in page and page.count("<svg") == 4
    assert "@media print{iframe.imap" in page  # only the interactive map is hidden
    assert "STBHHX510904001" in page and "审查意见" in page and "水田" in page


def _pgm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P5"
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4][: w * h], dtype=np.uint8).reshape(h, w)


def test_pdf_is_a4_holds_verdicts_and_rows_and_is_not_blank(result, tmp_path):
    from ecogis.reports.pdf import find_chromium, write_pdf

    if find_chromium() is None:
        _need("chromium")
    pdfinfo, pdftotext, pdftoppm = (_need(t) for t in ("pdfinfo", "pdftotext", "pdftoppm"))
    path = write_pdf(result, tmp_path / "审查.pdf")
    info = subprocess.run([pdfinfo, path], capture_output=True, text=True, check=True).stdout
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    assert (w, h) == (approx(595.28, abs=1.5), approx(841.89, abs=1.5))
    text = subprocess.run([pdftotext, "-layout", path, "-"], capture_output=True, text=True,
                          check=True).stdout
    compact = re.sub(r"\s+", "", text)
    for s in result.sites:
        assert re.sub(r"\s+", "", f"审查结论：{VERDICT_ZH[s.verdict]}") in compact
        for r in s.extra["landuse"]:
            assert f"{r['area_m2'] / 1e4:.4f}" in text  # 压占 by 地类 rows
    assert "生态保护红线" in compact and "STBHHX510904001" in compact
    pdffonts = shutil.which("pdffonts")
    if pdffonts:
        fonts = subprocess.run([pdffonts, path], capture_output=True, text=True).stdout
        emb = [re.search(r"\s(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", ln)
               for ln in fonts.splitlines()[2:] if ln.strip()]
        assert emb and all(m is not None and m.group(1) == "yes" for m in emb)  # embedded
    subprocess.run([pdftoppm, "-gray", "-r", "30", "-f", "2", "-l", "2", path,
                    tmp_path / "page"], check=True)
    page = _pgm(next(tmp_path.glob("page*.pgm")))
    assert (page < 200).mean() > 0.02  # a map page: far from blank


# --------------------------------------------------------------------------------- diff
@pytest.mark.parametrize(("region", "own", "other"), [
    ("anju", "安居区", "永川区"), ("yongchuan", "永川区", "安居区")])
def test_diff_cites_the_regions_own_plan_and_names_features(tmp_path, origin, run_cli,
                                                          region, own, other):
    from ecogis.workspace import Workspace

    o = origin
    before = gpd.GeoDataFrame({"name": ["红线甲", "红线乙"], "bsm": ["HX01", "HX02"]},
                              geometry=[_box(o, 0, 0, 1000, 1000), _box(o, 2000, 0, 2500, 500)],
                              crs=GK)
    after = before.iloc[[0]].copy()  # 红线乙 is dropped: the area decreases
    ws = Workspace.open(tmp_path / "ws.gpkg", create=True)
    with ws.transaction():
        ws.write("old", before, "redline")
        ws.write("new", after, "redline")
        ws.set_meta(region=region)
    code, out, err = run_cli("diff", f"{ws.path}:old", f"{ws.path}:new", "--format", "json")
    assert code == 1, err
    doc = json.loads(out)
    cites = doc["rule"]["citations"] + [c for r in doc["reasons"] for c in r["citations"]]
    assert cites and all(other not in c for c in cites)
    assert any(own in c for c in cites)
    assert [p["features"] for p in doc["lost_features"]] == ["HX02"]
    lost = doc["lost_features"][0]
    assert lost["area_m2"] == approx(doc["areas_m2"]["lost"])
    code, table, _ = run_cli("diff", f"{ws.path}:old", f"{ws.path}:new")
    assert other not in table and "HX02" in table
    path = tmp_path / "diff.xlsx"
    assert run_cli("diff", f"{ws.path}:old", f"{ws.path}:new", "--format", "xlsx", "-o",
                   path, "--unit", "ha")[0] == 1
    import openpyxl

    wb = openpyxl.load_workbook(path)
    rows = {r[0]: r for r in wb["面积变化"].iter_rows(min_row=2, values_only=True)}
    assert rows["减少"][1] == approx(doc["areas_m2"]["lost"] / 1e4, abs=5e-5)  # 公顷, then 亩
    assert [r[1] for r in wb["减少图斑"].iter_rows(min_row=2, values_only=True)] == ["HX02"]


def test_report_shows_displaced_rules_procedures_and_refused_sites(result, monkeypatch):
    """What helper rules adds to a check (displaced hits, refused sites) reaches the report."""
    import copy

    from ecogis.reports.html import render_review_html

    s = result.sites[1]
    shadow = copy.copy(s.hits[0])
    shadow.overridden_by, shadow.precedence = "anju.farmland.x", "细化了 national 规则"
    monkeypatch.setattr(s, "overridden", [shadow], raising=False)
    monkeypatch.setattr(result, "errors", [{"id": "S9", "error": "unknown category"}],
                        raising=False)
    page = render_review_html(result, interactive=False)
    assert "由 anju.farmland.x 取代：细化了 national 规则" in page
    assert "S9：unknown category" in page
    assert "须办理的程序" in page


def test_cli_docx_summary_matches_cli_json(workspace, run_cli, tmp_path):
    import docx

    ws, sites = workspace
    code, out, err = run_cli("check", ws, sites, "--format", "json")
    assert code == 0, err
    want = {s["id"]: s for s in json.loads(out)["sites"]}
    path = tmp_path / "审查.docx"
    code, _, err = run_cli("check", ws, sites, "--format", "docx", "-o", path, "--unit", "m2")
    assert code == 0, err
    doc = docx.Document(path)
    summary = doc.tables[1]
    head = [c.text for c in summary.rows[0].cells]
    assert head[4:6] == ["用地面积（平方米）", "用地面积（亩）"]
    got = {r.cells[1].text: [c.text for c in r.cells] for r in summary.rows[1:]}
    assert set(got) == set(want)
    for sid, s in want.items():
        assert float(got[sid][4].replace(",", "")) == approx(s["area_m2"], abs=0.005)
        assert float(got[sid][6].replace(",", "")) == approx(s["farmland_m2"], abs=0.005)
        assert got[sid][8] == s["verdict_zh"]
    text = _docx_text(doc)
    for s in want.values():
        for h in s["hits"]:
            assert h["rule_zh"] in text
