"""Offline map pages: inline the vendored Leaflet (package data) into rendered HTML.

folium pages load Leaflet, jQuery, Bootstrap and Font Awesome from CDNs, so on a machine with
no network they stay blank. ecogis maps declare their assets with the placeholder scheme
``ecogis-asset:`` (see :data:`OFFLINE_JS`, :data:`OFFLINE_CSS`); :func:`inline_assets` replaces
each ``<script src>`` / ``<link rel=stylesheet>`` by the file's content, turns the images that
Leaflet's CSS references into ``data:`` URIs, maps folium's CDN Leaflet onto the vendored copy,
drops folium's jQuery/Bootstrap/Font Awesome links (a two-function jQuery stand-in covers the two
calls folium's own templates make) and refuses any other external script or stylesheet.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

from ecogis.errors import InputError

ASSETS = Path(__file__).resolve().parent / "assets"
LEAFLET_VERSION = "1.9.4"
SCHEME = "ecogis-asset:"

#: scripts every ecogis map page needs (``(name, placeholder URL)`` as folium's default_js)
OFFLINE_JS: list[tuple[str, str]] = [
    ("leaflet", SCHEME + "leaflet/leaflet.js"),
    ("ecogis_shim", SCHEME + "shim.js"),
]
#: stylesheets every ecogis map page needs (as folium's default_css)
OFFLINE_CSS: list[tuple[str, str]] = [("leaflet_css", SCHEME + "leaflet/leaflet.css")]

# folium's CDN defaults: Leaflet maps to the vendored copy, the rest is not needed by the pages
# ecogis builds (jQuery is replaced by the shim below)
_CDN_LEAFLET_JS = re.compile(r"leaflet@[\d.]+/dist/leaflet\.js$|/leaflet(\.min)?\.js$")
_CDN_LEAFLET_CSS = re.compile(r"leaflet@[\d.]+/dist/leaflet\.css$|/leaflet(\.min)?\.css$")
_DROPPABLE = re.compile(
    r"jquery[-.\d]*(\.min)?\.js$|bootstrap[^/]*/dist/(js|css)/bootstrap[.\w]*\.(js|css)$"
    r"|bootstrap-glyphicons\.css$|fontawesome-free@[\d.]+/css/all(\.min)?\.css$"
    r"|leaflet\.awesome-markers\.css$|leaflet\.awesome\.rotate(\.min)?\.css$"
)
_AWESOME_JS = re.compile(r"leaflet\.awesome-markers(\.min)?\.js$")

_SCRIPT_SRC = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>\s*</script>""", re.I)
_LINK_TAG = re.compile(r"""<link\b[^>]*>""", re.I)
_HREF = re.compile(r"""\bhref\s*=\s*["']([^"']+)["']""", re.I)
_CSS_URL = re.compile(r"""url\(\s*["']?(?!data:|#)([^"')]+)["']?\s*\)""")


class OfflineAssetError(InputError):
    """A map page references an external script or stylesheet that ecogis does not vendor."""


def _read(rel: str) -> bytes:
    path = ASSETS / rel
    if not path.is_file():
        raise OfflineAssetError(f"vendored asset {rel!r} is missing from {ASSETS}",
                                fix="reinstall ecogis (package data ecogis/assets)")
    return path.read_bytes()


def _data_uri(rel: str) -> str:
    mime = "image/png" if rel.endswith(".png") else "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(_read(rel)).decode("ascii")


@cache
def _css(rel: str) -> str:
    text = _read(rel).decode("utf-8")
    base = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    return _CSS_URL.sub(lambda m: f'url("{_data_uri(base + m.group(1))}")', text)


def _shim() -> str:
    icon = _data_uri("leaflet/images/marker-icon.png")
    icon2 = _data_uri("leaflet/images/marker-icon-2x.png")
    shadow = _data_uri("leaflet/images/marker-shadow.png")
    return (
        "/* ecogis offline shim: Leaflet's default marker icon as data: URIs, and the two jQuery\n"
        "   calls folium's templates make ($(html)[0] and $(document).ready(fn)). */\n"
        "(function(){\n"
        "if (window.L && L.Icon && L.Icon.Default) {\n"
        "  L.Icon.Default.imagePath = '';\n"
        f"  L.Icon.Default.mergeOptions({{iconUrl: '{icon}', iconRetinaUrl: '{icon2}',"
        f" shadowUrl: '{shadow}'}});\n"
        "}\n"
        "if (!window.$) {\n"
        "  window.$ = function(x){\n"
        "    if (x === document) { return {ready: function(f){\n"
        "      if (document.readyState !== 'loading') { setTimeout(f, 0); }\n"
        "      else { document.addEventListener('DOMContentLoaded', f); } }}; }\n"
        "    var t = document.createElement('template'); t.innerHTML = String(x).trim();\n"
        "    return Array.prototype.slice.call(t.content.childNodes);\n"
        "  };\n"
        "}\n"
        "})();\n"
    )


@cache
def _js(rel: str) -> str:
    text = _shim() if rel == "shim.js" else _read(rel).decode("utf-8")
    return text.replace("</script", "<\\/script")


def _is_remote(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url, re.I))


def _script_for(url: str, uses_awesome: bool = False) -> str | None:
    """Return the inline ``<script>`` for ``url``, ``""`` to drop it, None when unknown."""
    if url.startswith(SCHEME):
        return f"<script>/* {url[len(SCHEME):]} */\n{_js(url[len(SCHEME):])}</script>"
    if _CDN_LEAFLET_JS.search(url):
        return _script_for(SCHEME + "leaflet/leaflet.js")
    if _DROPPABLE.search(url):
        return ""
    if _AWESOME_JS.search(url):
        if not uses_awesome:  # folium lists it on every page; only folium.Icon needs it
            return ""
        raise OfflineAssetError(
            "the map uses folium.Icon (Leaflet.awesome-markers), which ecogis does not vendor",
            fix="use folium.CircleMarker or a plain folium.Marker")
    return None


def _style_for(url: str) -> str | None:
    if url.startswith(SCHEME):
        return f"<style>/* {url[len(SCHEME):]} */\n{_css(url[len(SCHEME):])}</style>"
    if _CDN_LEAFLET_CSS.search(url):
        return _style_for(SCHEME + "leaflet/leaflet.css")
    if _DROPPABLE.search(url):
        return ""
    return None


def inline_assets(html: str) -> str:
    """Return ``html`` with every script and stylesheet inlined from the vendored assets.

    Raises
    ------
    OfflineAssetError
        When the page loads a script or stylesheet that is neither vendored nor droppable.
    """
    done: set[str] = set()
    uses_awesome = "L.AwesomeMarkers" in html

    def once(out: str | None, what: str, url: str) -> str:
        """The inline replacement of an external asset, emitted once per page."""
        if out is None:
            raise OfflineAssetError(f"the map loads the {what} {url} from outside the page",
                                    fix="vendor it under ecogis/assets or drop the element")
        key = out[:80]
        if out and key in done:
            return ""
        done.add(key)
        return out

    def script(m: re.Match) -> str:
        url = m.group(1)
        return once(_script_for(url, uses_awesome), "script", url)

    def link(m: re.Match) -> str:
        tag = m.group(0)
        if "stylesheet" not in tag.lower():
            return tag
        href = _HREF.search(tag)
        if not href:
            return tag
        url = href.group(1)
        return once(_style_for(url), "stylesheet", url)

    html = _SCRIPT_SRC.sub(script, html)
    html = _LINK_TAG.sub(link, html)
    left = external_references(html)
    if left:
        raise OfflineAssetError(f"the map still references {left[0]} from outside the page",
                                fix="vendor the asset or remove the element")
    return html


def external_references(html: str) -> list[str]:
    """Return the URLs of scripts, stylesheets, images and CSS ``url()`` that leave the page.

    Tile URL templates inside JavaScript (an OSM or 天地图 basemap the user asked for) are not
    counted: only static references that a browser fetches while parsing the page.
    """
    found: list[str] = []
    for m in re.finditer(r"""<(script|img|iframe|embed|source|audio|video)\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""",
                         html, re.I):
        if not m.group(2).startswith("data:"):
            found.append(m.group(2))
    for m in _LINK_TAG.finditer(html):
        tag = m.group(0)
        href = _HREF.search(tag)
        if href and re.search(r"stylesheet|icon|preload|prefetch|import", tag, re.I) and \
                not href.group(1).startswith("data:"):
            found.append(href.group(1))
    for m in re.finditer(r"""url\(\s*["']?((?:https?:)?//[^"')]+)""", html, re.I):
        found.append(m.group(1))
    for m in re.finditer(r"""@import\s+(?:url\()?\s*["']?([^"');\s]+)""", html, re.I):
        found.append(m.group(1))
    return found
