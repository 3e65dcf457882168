"""The 用地预审 report as one self-contained HTML page that prints on A4.

Blocks of :func:`ecogis.reports.review.build_review` become HTML; figures are inline SVG
(:mod:`ecogis.reports.figure`), so the page works offline and prints with its maps. The print
stylesheet sets ``@page`` A4 with margins, keeps the overview and site maps, hides the
interactive map (a screen-only ``iframe``), starts each site on a new page and repeats table
headers across pages. Fonts: Noto Sans/Serif CJK SC, then WenQuanYi Zen Hei (Debian
``fonts-noto-cjk``, ``fonts-wqy-zenhei``).
"""

from __future__ import annotations

import html

from ecogis.reports.review import SIGNATURE_ROWS, Block, build_review

CSS = """
@page{size:A4;margin:18mm 16mm 18mm 16mm}
body{font-family:"Noto Serif CJK SC","Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",
serif;color:#111;line-height:1.6;max-width:190mm;margin:1.5em auto;padding:0 1em;font-size:11pt}
h1.title{font-size:20pt;text-align:center;margin:.4em 0 1em;letter-spacing:.1em}
h1{font-size:14pt;margin:1.2em 0 .4em;font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif}
h2{font-size:12pt;margin:1em 0 .3em;font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif}
p{margin:.3em 0;text-indent:0}
table{border-collapse:collapse;margin:.4em 0 .8em;width:100%;font-size:9.5pt}
th,td{border:1px solid #555;padding:2px 5px;vertical-align:top}
th{background:#eee;font-weight:bold}thead{display:table-header-group}
td.num{text-align:right;white-space:nowrap}
table.kv td:first-child{width:7em;font-weight:bold;background:#f6f6f6}
table.points{font-size:8.5pt;width:auto;min-width:60%}
p.small{font-size:9pt;color:#333}p.note{color:#555;font-size:9.5pt}
p.verdict-forbidden{color:#a93226;font-weight:bold}p.verdict-conditional{color:#b9770e;
font-weight:bold}p.verdict-warn{color:#9a7d0a;font-weight:bold}p.verdict-allowed{color:#1e8449;
font-weight:bold}
p.finding-yes{border-left:4px solid #c0392b;padding-left:.5em}
p.finding-no{border-left:4px solid #27ae60;padding-left:.5em}
p.finding-na{border-left:4px solid #999;padding-left:.5em}
figure{margin:.5em 0;text-align:center;break-inside:avoid}figcaption{font-size:9.5pt}
svg.map{max-width:100%;height:auto}
table.sign{margin-top:2.5em;border:none}table.sign td{border:none;padding:1.2em .5em .2em;
width:50%}
iframe.imap{width:100%;height:560px;border:1px solid #bbb}
.pb{break-before:page}
@media print{iframe.imap,.screen{display:none}body{margin:0;max-width:none;padding:0}}
"""


def _table(b: Block) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
    rows = []
    for r in b.rows:
        rows.append("<tr>" + "".join(
            ("<td class='num'>" if j in b.numeric else "<td>") + html.escape(str(c)) + "</td>"
            for j, c in enumerate(r)) + "</tr>")
    cls = f' class="{b.style}"' if b.style else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def render_blocks(blocks: list[Block], result, *, interactive: str | None = None) -> str:
    """Return the HTML page of ``blocks`` (figures drawn from ``result``)."""
    from ecogis.reports.figure import scene_svg, site_scene

    title = next((b.text for b in blocks if b.kind == "title"), "审查报告")
    out = ["<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
           f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"]
    first_break = True
    for b in blocks:
        if b.kind == "title":
            out.append(f"<h1 class='title'>{html.escape(b.text)}</h1>")
        elif b.kind in ("h1", "h2"):
            out.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            cls = f" class='{b.style}'" if b.style else ""
            out.append(f"<p{cls}>{html.escape(b.text)}</p>")
        elif b.kind == "kv":
            out.append("<table class='kv'>" + "".join(
                f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
                for k, v in b.rows) + "</table>")
        elif b.kind == "table":
            out.append(_table(b))
        elif b.kind == "figure":
            if b.site is None and interactive:
                out.append("<div class='screen'><h2>交互地图</h2><iframe class='imap' "
                           "title='选址审查地图' srcdoc=\"" + html.escape(interactive, quote=True)
                           + "\"></iframe></div>")
            svg = scene_svg(site_scene(result, b.site))
            out.append(f"<figure>{svg}<figcaption>{html.escape(b.text)}</figcaption></figure>")
        elif b.kind == "pagebreak":
            if not first_break:
                out.append("<div class='pb'></div>")
            first_break = False
        elif b.kind == "signature":
            out.append("<h1>审查签署</h1><table class='sign'>" + "".join(
                f"<tr><td>{html.escape(a)}：________________</td>"
                f"<td>{html.escape(d)}：______年____月____日</td></tr>"
                for a, d in SIGNATURE_ROWS) + "</table>")
    out.append("<p class='note'>本报告由 ecogis 根据工作空间数据自动生成；地图为本地绘制，"
               "无需联网。</p></body></html>")
    return "".join(out)


def render_review_html(result, *, unit: str | None = None, interactive: bool = True) -> str:
    """Return the 用地预审 report of ``result`` as a self-contained HTML page (prints A4).

    ``interactive`` embeds the offline Leaflet map (:mod:`ecogis.maps`, screen only) when the
    result has its engine; the static SVG maps are always there and are what prints.
    """
    doc = None
    if interactive and result.engine is not None and result.site_set is not None:
        from ecogis.maps import render_html as map_html
        from ecogis.siting_report import interactive_map

        doc = map_html(interactive_map(result))
    blocks = build_review(result, unit=unit)
    if doc and not any(b.kind == "figure" and b.site is None for b in blocks):
        # a single site has no overview figure: put the interactive map after the summary
        i = next(k for k, b in enumerate(blocks) if b.kind == "table")
        blocks.insert(i + 1, Block("figure", "项目位置", site=None))
    return render_blocks(blocks, result, interactive=doc)
