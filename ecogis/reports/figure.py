"""The report's static maps: a site with its context, strict layers on top, as SVG or PNG.

Everything is drawn from the check's own geometry in its Gauss-Krüger plane: every layer the
check loaded, clipped to a window around the site (context, not only the features hit), in
:data:`~ecogis.reports.review.DRAW_ORDER` so 生态保护红线 lies over 永久基本农田, in the
colours of ``layers/kinds.toml``; with a legend, a scale bar and a north arrow. The PNG (for
Word) is rasterised with rasterio from the same shapes; its legend and scale are written in
the caption, since no font is drawn into the raster.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import shapely

from ecogis.reports.review import DRAW_ORDER

VERDICT_COLOR = {"forbidden": "#c0392b", "conditional": "#e67e22", "warn": "#d4ac0d",
                 "allowed": "#27ae60"}
#: features of one layer drawn in one window at most
MAX_FEATURES = 4000


@dataclass
class Shape:
    """A geometry to draw (metric plane) with its style and legend label."""

    geom: object
    fill: str | None
    stroke: str
    opacity: float
    width: float
    label: str
    z: int
    text: str = ""  # drawn beside the shape (SVG only): the site id on the overview


@dataclass
class Scene:
    """What one map shows: shapes bottom to top, the window (minx, miny, maxx, maxy), legend."""

    shapes: list[Shape]
    window: tuple[float, float, float, float]
    legend: list[tuple[str, str]]  # (colour, label)


def _nice(length: float) -> float:
    e = 10 ** math.floor(math.log10(max(length, 1e-9)))
    for m in (5, 2, 1):
        if m * e <= length:
            return m * e
    return e


def _multi(geoms: np.ndarray, areal: bool):
    """One MultiPolygon (areal layers) or MultiLineString / MultiPoint of ``geoms``' parts."""
    parts = shapely.get_parts(geoms)
    dims = shapely.get_dimensions(parts)
    if areal:
        return shapely.multipolygons(parts[dims == 2])
    lines = parts[dims == 1]
    if len(lines):
        return shapely.multilinestrings(lines)
    return shapely.multipoints(parts[dims == 0])


def _z(kind_id: str) -> int:
    return DRAW_ORDER.index(kind_id) if kind_id in DRAW_ORDER else len(DRAW_ORDER) // 2


def site_scene(result, index: int | None) -> Scene:
    """The shapes of site ``index`` (``None``: all sites, the overview) and their context."""
    ss, engine = result.site_set, result.engine
    if index is None:
        geoms = ss.geoms
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        size = max(maxx - minx, maxy - miny, 200.0)
        pad = 0.08 * size
    else:
        minx, miny, maxx, maxy = shapely.bounds(ss.geoms[index])
        size = max(maxx - minx, maxy - miny, 40.0)
        reach = [h.distance_m for h in result.sites[index].hits
                 if h.distance_m is not None and h.distance_m > 0]
        pad = max(0.6 * size, min(max(reach + [0.0]), 4 * size) + 0.15 * size, 60.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = (max(maxx - minx, maxy - miny) / 2) + pad
    win = (cx - 1.3 * half, cy - half, cx + 1.3 * half, cy + half)
    box = shapely.box(*win)
    shapes: list[Shape] = []
    legend: list[tuple[str, str]] = []
    if engine is not None:
        tol = (win[2] - win[0]) / 1500
        for li in sorted(engine.layers.values(), key=lambda li: _z(li.kind.id)):
            idx = li.tree.query(box, predicate="intersects")
            if not len(idx):
                continue
            parts = li.parts[idx[:MAX_FEATURES]]
            clipped = shapely.clip_by_rect(parts, *win)
            clipped = shapely.simplify(clipped, tol)
            clipped = clipped[~shapely.is_empty(clipped)]
            if not len(clipped):
                continue
            k = li.kind
            areal = li.areal
            shapes.append(Shape(_multi(clipped, areal),
                                k.color if areal else None, k.color,
                                max(float(k.fill_opacity), 0.25) if areal else 1.0,
                                1.0 if areal else 2.5, f"{k.name_zh}（{li.name}）",
                                _z(k.id)))
            legend.append((k.color, f"{k.name_zh}（{li.name}）"))
    sites = range(len(result.sites)) if index is None else [index]
    marker = 0.012 * (win[2] - win[0])
    for i in sites:
        s = result.sites[i]
        col = VERDICT_COLOR[s.verdict]
        g = ss.geoms[i]
        if index is None:  # the overview: a site smaller than a marker is drawn as one
            b = shapely.bounds(g)
            if max(b[2] - b[0], b[3] - b[1]) < 2 * marker:
                g = shapely.buffer(shapely.centroid(g), marker, quad_segs=4)
        shapes.append(Shape(g, col, "#000000" if index is None else col,
                            0.85 if index is None else 0.3, 1.0 if index is None else 3.0,
                            f"项目 {s.id}", 100, str(s.id) if index is None else ""))
        if index is not None and not ss.source[i].equals(ss.geoms[i]):
            shapes.append(Shape(ss.source[i], None, "#000000", 1.0, 1.0, "", 101))
    if index is None:
        legend += [(VERDICT_COLOR[v], f"项目：{z}") for v, z in
                   (("forbidden", "禁止"), ("conditional", "有条件"), ("warn", "需复核"),
                    ("allowed", "允许"))]
    else:
        legend.append((VERDICT_COLOR[result.sites[index].verdict],
                       f"项目用地 {result.sites[index].id}"))
    return Scene(shapes, win, legend)


# --------------------------------------------------------------------------------- SVG
def _path(g, tx) -> str:
    out = []
    for p in shapely.get_parts(g):
        if p.is_empty:
            continue
        t = p.geom_type
        if t == "Polygon":
            for ring in (p.exterior, *p.interiors):
                pts = tx(np.asarray(ring.coords)[:, :2])
                out.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + " Z")
        elif t in ("LineString", "LinearRing"):
            pts = tx(np.asarray(p.coords)[:, :2])
            out.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts))
        elif t == "Point":
            (x, y), = tx(np.array([[p.x, p.y]]))
            out.append(f"M{x - 4:.1f},{y:.1f} a4,4 0 1,0 8,0 a4,4 0 1,0 -8,0")
        elif t == "GeometryCollection" or t.startswith("Multi"):
            out.append(_path(p, tx))
    return " ".join(out)


def scene_svg(scene: Scene, *, width: int = 680, height: int = 520) -> str:
    """Return the scene as an inline SVG with legend, scale bar and north arrow."""
    minx, miny, maxx, maxy = scene.window
    leg_h = 18 * ((len(scene.legend) + 2) // 3) + 8
    map_h = height - leg_h
    k = min(width / (maxx - minx), map_h / (maxy - miny))
    ox = (width - (maxx - minx) * k) / 2
    oy = (map_h - (maxy - miny) * k) / 2

    def tx(c: np.ndarray) -> np.ndarray:
        return np.column_stack([ox + (c[:, 0] - minx) * k, oy + (maxy - c[:, 1]) * k])

    body = [f'<rect width="{width}" height="{map_h}" fill="#fbfbf8" stroke="#999"/>',
            f'<clipPath id="c"><rect width="{width}" height="{map_h}"/></clipPath><g clip-path="url(#c)">']
    for sh in sorted(scene.shapes, key=lambda s: s.z):
        d = _path(sh.geom, tx)
        if not d:
            continue
        fill = (f'fill="{sh.fill}" fill-opacity="{sh.opacity:.2f}"' if sh.fill
                else 'fill="none"')
        dash = ' stroke-dasharray="4 3"' if sh.fill is None and sh.z > 100 else ""
        body.append(f'<path d="{d}" {fill} stroke="{sh.stroke}" stroke-width="{sh.width}" '
                    f'fill-rule="evenodd"{dash}/>')
        if sh.text:
            (x, y), = tx(np.array([[shapely.bounds(sh.geom)[2], shapely.bounds(sh.geom)[3]]]))
            body.append(f'<text x="{x + 2:.1f}" y="{y:.1f}" font-size="12" font-weight="bold" '
                        'font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif">'
                        f'{html.escape(sh.text)}</text>')
    body.append("</g>")
    bar_m = _nice((maxx - minx) / 5)
    bar = bar_m * k
    label = f"{bar_m / 1000:g} 千米" if bar_m >= 1000 else f"{bar_m:g} 米"
    y0 = map_h - 14
    body.append(f'<g font-size="12" font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, sans-serif">'
                f'<rect x="12" y="{y0 - 6}" width="{bar:.1f}" height="6" fill="#222"/>'
                f'<rect x="{12 + bar / 2:.1f}" y="{y0 - 6}" width="{bar / 2:.1f}" height="6" '
                f'fill="#fff" stroke="#222"/><text x="{bar + 18:.1f}" y="{y0}">{label}</text>'
                f'<text x="{width - 27}" y="20" font-weight="bold">N</text>'
                f'<path d="M{width - 22},24 l-8,20 l8,-5 l8,5 Z" fill="#222"/></g>')
    for j, (col, text) in enumerate(scene.legend):
        x = 8 + (j % 3) * (width // 3)
        y = map_h + 8 + 18 * (j // 3)
        body.append(f'<rect x="{x}" y="{y}" width="14" height="12" fill="{col}" '
                    f'fill-opacity="0.6" stroke="{col}"/><text x="{x + 19}" y="{y + 11}" '
                    'font-size="12" font-family="Noto Sans CJK SC, WenQuanYi Zen Hei, '
                    f'sans-serif">{html.escape(text)}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" class="map">' + "".join(body) + "</svg>")


def scale_text(scene: Scene, width: int) -> str:
    """The scale of a raster of ``width`` pixels: ``1 像素 ≈ 1.2 米；图幅宽 800 米``."""
    w = scene.window[2] - scene.window[0]
    return f"图幅宽 {w:,.0f} 米（1 像素 ≈ {w / width:.2f} 米）"


# --------------------------------------------------------------------------------- PNG
def _rgb(hexcol: str) -> np.ndarray:
    h = hexcol.lstrip("#")
    return np.array([int(h[i:i + 2], 16) for i in (0, 2, 4)], dtype=float)


def scene_png(scene: Scene, *, width: int = 1200) -> bytes:
    """Return the scene as PNG bytes (rasterio): fills blended, outlines, scale bar, north."""
    from affine import Affine
    from rasterio.features import rasterize
    from rasterio.io import MemoryFile

    minx, miny, maxx, maxy = scene.window
    px = (maxx - minx) / width
    height = int(round((maxy - miny) / px))
    transform = Affine(px, 0, minx, 0, -px, maxy)
    img = np.full((height, width, 3), 251.0)
    img[:, :] = (251, 251, 248)
    line_w = 1.2 * px

    def mask(geom) -> np.ndarray:
        if geom is None or shapely.is_empty(geom):
            return np.zeros((height, width), dtype=bool)
        return rasterize([(geom, 1)], out_shape=(height, width), transform=transform,
                         fill=0, dtype="uint8", all_touched=False).astype(bool)

    for sh in sorted(scene.shapes, key=lambda s: s.z):
        g = sh.geom
        dim = shapely.get_dimensions(g)
        if sh.fill and dim == 2:
            m = mask(g)
            img[m] = img[m] * (1 - sh.opacity) + _rgb(sh.fill) * sh.opacity
        outline = shapely.buffer(shapely.boundary(g) if dim == 2 else g,
                                 line_w * sh.width, quad_segs=2)
        m = mask(outline)
        img[m] = _rgb(sh.stroke)
    # scale bar (black/white halves) and north arrow, in map units
    bar_m = _nice((maxx - minx) / 5)
    x0, y0 = minx + 20 * px, miny + 20 * px
    h = 8 * px
    img[mask(shapely.box(x0, y0, x0 + bar_m / 2, y0 + h))] = (34, 34, 34)
    ring = shapely.box(x0 + bar_m / 2, y0, x0 + bar_m, y0 + h)
    img[mask(shapely.buffer(shapely.boundary(ring), px))] = (34, 34, 34)
    ax, ay = maxx - 40 * px, maxy - 25 * px
    arrow = shapely.Polygon([(ax, ay), (ax - 12 * px, ay - 36 * px), (ax, ay - 28 * px),
                             (ax + 12 * px, ay - 36 * px)])
    img[mask(arrow)] = (34, 34, 34)
    # the letter N above the arrow, drawn as strokes
    nx, ny, nh, nw = ax - 7 * px, ay + 4 * px, 16 * px, 14 * px
    letter = shapely.LineString([(nx, ny), (nx, ny + nh), (nx + nw, ny), (nx + nw, ny + nh)])
    img[mask(shapely.buffer(letter, 1.6 * px, quad_segs=2))] = (34, 34, 34)
    img[[0, -1], :] = (150, 150, 150)
    img[:, [0, -1]] = (150, 150, 150)
    data = np.clip(img, 0, 255).astype("uint8").transpose(2, 0, 1)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with MemoryFile() as mem:
            with mem.open(driver="PNG", width=width, height=height, count=3,
                          dtype="uint8") as dst:
                dst.write(data)
            return mem.read()


def scale_bar_m(scene: Scene) -> float:
    """Length (m) of the scale bar drawn on the scene."""
    return _nice((scene.window[2] - scene.window[0]) / 5)
