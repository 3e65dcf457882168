"""The 用地预审 report as a Word document (python-docx, extra ``ecogis[reports]``).

The blocks of :func:`ecogis.reports.review.build_review` become Word paragraphs and tables on
A4; every run gets an East Asian font name (宋体/黑体 style names mapped to Noto CJK and
WenQuanYi, which Debian installs), so Chinese text does not fall back to a Latin font. Maps
are PNG (:func:`ecogis.reports.figure.scene_png`) with their legend as a small table.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from ecogis.errors import InputError
from ecogis.reports.review import SIGNATURE_ROWS, Block, build_review

BODY_FONT = "Noto Serif CJK SC"
HEAD_FONT = "Noto Sans CJK SC"
LATIN_FONT = "Times New Roman"


def _require_docx():
    try:
        import docx  # noqa: F401
    except ImportError:
        raise InputError("Word output needs python-docx, which is not installed",
                         fix="pip install 'ecogis[reports]'") from None
    return docx


def _east_asian(run, name: str) -> None:
    from docx.oxml.ns import qn

    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def _style_fonts(doc) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt

    for sname, font, size in (("Normal", BODY_FONT, 10.5), ("Title", HEAD_FONT, 20),
                              ("Heading 1", HEAD_FONT, 14), ("Heading 2", HEAD_FONT, 12)):
        st = doc.styles[sname]
        st.font.name = LATIN_FONT
        st.font.size = Pt(size)
        rpr = st.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        fonts.set(qn("w:eastAsia"), font)
        if sname != "Normal":
            st.font.color.rgb = None


def _para(doc, text: str, *, style: str | None = None, bold: bool = False, size=None,
          font: str = BODY_FONT, color=None, align=None):
    p = doc.add_paragraph(style=style)
    run = p.add_run(text)
    run.bold = bold
    if size:
        run.font.size = size
    if color is not None:
        run.font.color.rgb = color
    _east_asian(run, font)
    if align is not None:
        p.alignment = align
    return p


def _table(doc, header: list[str], rows: list[list[str]], numeric=(), *, size=None,
           widths=None):
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    size = size or Pt(9)
    t = doc.add_table(rows=1 + len(rows), cols=len(header))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    for j, h in enumerate(header):
        cell = t.rows[0].cells[j]
        cell.text = ""
        run = cell.paragraphs[0].add_run(h)
        run.bold = True
        run.font.size = size
        _east_asian(run, HEAD_FONT)
        shd = OxmlElement("w:shd")
        shd.set(qn("w:val"), "clear")
        shd.set(qn("w:fill"), "E8E8E8")
        cell._tc.get_or_add_tcPr().append(shd)
    trpr = t.rows[0]._tr.get_or_add_trPr()  # repeat the header row on every page
    hdr = OxmlElement("w:tblHeader")
    hdr.set(qn("w:val"), "true")
    trpr.append(hdr)
    for i, r in enumerate(rows, start=1):
        cells = t.rows[i].cells
        for j, v in enumerate(r):
            para = cells[j].paragraphs[0]
            run = para.add_run(str(v))
            run.font.size = size
            _east_asian(run, BODY_FONT)
            if j in numeric:
                para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if widths:
        for row in t.rows:
            for j, w in enumerate(widths):
                row.cells[j].width = w
    return t


def _figure(doc, result, b: Block) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    from ecogis.reports.figure import scale_bar_m, scene_png, site_scene

    scene = site_scene(result, b.site)
    png = scene_png(scene, width=1400)
    doc.add_picture(io.BytesIO(png), width=Cm(16))
    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    bar = scale_bar_m(scene)
    bar_txt = f"{bar / 1000:g} 千米" if bar >= 1000 else f"{bar:g} 米"
    _para(doc, f"{b.text}（左下比例尺全长 {bar_txt}，黑白各半；右上箭头指北）",
          size=Pt(9), align=WD_ALIGN_PARAGRAPH.CENTER)
    legend = scene.legend
    n = 3
    t = doc.add_table(rows=(len(legend) + n - 1) // n, cols=2 * n)
    for k, (col, text) in enumerate(legend):
        r, c = divmod(k, n)
        swatch = t.rows[r].cells[2 * c]
        swatch.width = Cm(0.6)
        run = swatch.paragraphs[0].add_run("■")
        run.font.color.rgb = RGBColor.from_string(col.lstrip("#").upper())
        run.font.size = Pt(11)
        cell = t.rows[r].cells[2 * c + 1]
        run = cell.paragraphs[0].add_run(text)
        run.font.size = Pt(8)
        _east_asian(run, BODY_FONT)


def review_document(result, *, unit: str | None = None):
    """Return the 用地预审 report of ``result`` as a python-docx ``Document`` (A4)."""
    _require_docx()
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.shared import Cm, Pt, RGBColor

    colors = {"forbidden": RGBColor(0xA9, 0x32, 0x26), "conditional": RGBColor(0xB9, 0x77, 0x0E),
              "warn": RGBColor(0x9A, 0x7D, 0x0A), "allowed": RGBColor(0x1E, 0x84, 0x49)}
    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.2)
    sec.top_margin = sec.bottom_margin = Cm(2.2)
    _style_fonts(doc)
    first_break = True
    for b in build_review(result, unit=unit):
        if b.kind == "title":
            _para(doc, b.text, bold=True, size=Pt(18), font=HEAD_FONT,
                  align=WD_ALIGN_PARAGRAPH.CENTER)
            doc.core_properties.title = b.text
        elif b.kind in ("h1", "h2"):
            h = doc.add_heading("", level=1 if b.kind == "h1" else 2)
            run = h.add_run(b.text)
            run.font.color.rgb = RGBColor(0, 0, 0)
            _east_asian(run, HEAD_FONT)
        elif b.kind == "p":
            color = None
            if b.style.startswith("verdict-"):
                color = colors.get(b.style.split("-", 1)[1])
            _para(doc, b.text, bold=b.style.startswith("verdict-"), color=color,
                  size=Pt(9) if b.style in ("small", "note") else None)
        elif b.kind == "kv":
            t = _table(doc, ["项目", "内容"], b.rows, size=Pt(9.5))
            t.rows[0]._tr.getparent().remove(t.rows[0]._tr)
            for row in t.rows:
                row.cells[0].width, row.cells[1].width = Cm(3.2), Cm(13.4)
        elif b.kind == "table":
            _table(doc, b.header, b.rows, b.numeric,
                   size=Pt(8) if b.style == "points" else Pt(9))
        elif b.kind == "figure":
            if result.site_set is not None:
                _figure(doc, result, b)
        elif b.kind == "pagebreak":
            if not first_break:
                doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            first_break = False
        elif b.kind == "signature":
            doc.add_heading("", level=1).add_run("审查签署")
            t = doc.add_table(rows=len(SIGNATURE_ROWS), cols=2)
            for row, (who, when) in zip(t.rows, SIGNATURE_ROWS, strict=True):
                for cell, text in ((row.cells[0], f"{who}：________________"),
                                   (row.cells[1], f"{when}：______年____月____日")):
                    p = cell.paragraphs[0]
                    p.paragraph_format.space_before = Pt(18)
                    run = p.add_run(text)
                    _east_asian(run, BODY_FONT)
    return doc


def write_docx(result, path: str | os.PathLike, *, unit: str | None = None) -> Path:
    """Write the 用地预审 report of ``result`` to ``path`` (.docx), atomically."""
    from ecogis.atomic import atomic_write_bytes

    doc = review_document(result, unit=unit)
    buf = io.BytesIO()
    doc.save(buf)
    p = Path(path)
    atomic_write_bytes(p, buf.getvalue())
    return p
