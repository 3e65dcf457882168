"""Run by Debian's /usr/bin/python3 (python3-qgis), not by the test venv: open every layer of a
GeoPackage with PyQGIS as QGIS does (default style loaded from layer_styles) and print, as
JSON, what QGIS sees: validity, geometry type, renderer, symbol colours, aliases, title.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/qgis_probe.py WS.gpkg
"""

import json
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)


def symbol_info(sym):
    out = {"color": sym.color().name(), "alpha": sym.color().alpha()}
    sl = sym.symbolLayer(0)
    props = sl.properties() if sl is not None else {}
    out["layer_class"] = sl.layerType() if sl is not None else None
    for k in ("outline_color", "line_color", "style", "outline_style", "line_style"):
        if k in props:
            out[k] = props[k]
    if hasattr(sl, "strokeColor"):
        out["stroke"] = sl.strokeColor().name()
    return out


def main(path):
    app = QgsApplication([], False)
    app.initQgis()
    md = QgsProviderRegistry.instance().providerMetadata("ogr")
    sub = md.querySublayers(path) if hasattr(md, "querySublayers") else []
    names = sorted({s.name() for s in sub})
    result = {"sublayers": [[s.name(), QgsWkbTypes.displayString(s.wkbType())] for s in sub],
              "layers": {}, "rasters": {}}
    for name in names:
        uri = f"{path}|layername={name}"
        lyr = QgsVectorLayer(uri, name, "ogr")
        if not lyr.isValid() or lyr.geometryType() in (QgsWkbTypes.NullGeometry,
                                                         QgsWkbTypes.UnknownGeometry):
            continue
        msg, ok = lyr.loadDefaultStyle()
        r = lyr.renderer()
        info = {"valid": lyr.isValid(), "geometry": QgsWkbTypes.geometryDisplayString(
                    lyr.geometryType()), "default_style": bool(ok), "message": msg,
                "renderer": r.type(), "features": lyr.featureCount(),
                "aliases": {f.name(): lyr.attributeAlias(i)
                            for i, f in enumerate(lyr.fields()) if lyr.attributeAlias(i)}}
        if r.type() == "singleSymbol":
            info["symbol"] = symbol_info(r.symbol())
        elif r.type() == "categorizedSymbol":
            info["attr"] = r.classAttribute()
            info["categories"] = {str(c.value()): symbol_info(c.symbol()) for c in r.categories()}
        result["layers"][name] = info
    # every provider's sublayers, as QGIS's browser lists the file (rasters come from gdal)
    for s in QgsProviderRegistry.instance().querySublayers(path):
        if s.providerKey() == "gdal":
            rl = QgsRasterLayer(s.uri(), s.name(), "gdal")
            result["rasters"][s.name()] = {"valid": rl.isValid(), "width": rl.width(),
                                           "height": rl.height(), "bands": rl.bandCount()}
    print(json.dumps(result, ensure_ascii=False), flush=True)
    sys.stderr.flush()
    os._exit(0)  # QgsApplication.exitQgis() may crash headless after the work is done


if __name__ == "__main__":
    main(sys.argv[1])
