"""DXF drawings as polygon layers: closed polylines and hatches, one CAD layer at a time.

GDAL's DXF driver returns every entity of the drawing in one layer ``entities`` with the CAD
layer name in the field ``Layer``. ecogis reads closed polylines as polygons
(``DXF_CLOSED_LINE_AS_POLYGON``) and hatches as the polygons they fill, keeps the polygons,
and reports what it left out (open lines, points, texts). ``--layer`` selects a CAD layer;
without it a drawing whose polygons sit on several CAD layers is refused with the list. A DXF
has no CRS: ``--crs`` is required.
"""

from __future__ import annotations

from pathlib import Path

from ecogis.errors import InputError


def read_dxf(p: Path, cad_layer: str | None, *, file: str):
    """Return ``(GeoDataFrame of polygons, CAD layer or None, notes)`` of a DXF file."""
    import pyogrio
    import shapely

    pyogrio.set_gdal_config_options({"DXF_CLOSED_LINE_AS_POLYGON": "TRUE"})
    try:
        gdf = pyogrio.read_dataframe(p, fid_as_index=True)
    except Exception as exc:
        raise InputError(f"cannot read as DXF: {exc}", file=file,
                         fix="save the drawing again as DXF (R2000 or later)") from None
    finally:
        pyogrio.set_gdal_config_options({"DXF_CLOSED_LINE_AS_POLYGON": None})
    gdf.index.name = "fid"
    if "Layer" not in gdf.columns:
        raise InputError("no CAD layers in the drawing", file=file, fix="check the DXF export")
    types = shapely.get_type_id(gdf.geometry.values)
    poly = (types == 3) | (types == 6)
    layers_all = sorted(set(gdf["Layer"].astype(str)))
    poly_layers = sorted(set(gdf.loc[poly, "Layer"].astype(str)))
    if cad_layer is not None:
        if cad_layer not in layers_all:
            raise InputError(f"has no CAD layer {cad_layer!r} (layers: {', '.join(layers_all)})",
                             file=file, fix="use --layer with one of the listed CAD layers")
        on = (gdf["Layer"].astype(str) == cad_layer).to_numpy()
    else:
        if len(poly_layers) > 1:
            raise InputError(f"closed polylines/hatches on {len(poly_layers)} CAD layers: "
                             f"{', '.join(poly_layers)}", file=file,
                             fix=f"pick one with --layer {poly_layers[0]}")
        on = (gdf["Layer"].astype(str) == poly_layers[0]).to_numpy() if poly_layers else \
            (gdf.index == gdf.index)
    keep = on & poly
    notes = []
    left = int((on & ~poly).sum())
    if not keep.any():
        raise InputError(f"no closed polylines or hatches{' on CAD layer ' + repr(cad_layer) if cad_layer else ''}"
                         f" ({left} open lines/points/texts)", file=file,
                         fix="close the boundary polylines in CAD (PEDIT → Close) and save again")
    if left:
        notes.append(f"{left} open line(s), point(s) or text(s) of the drawing left out "
                     "(only closed polylines and hatches are polygons)")
    cols = [c for c in ("Layer", "SubClasses", "Linetype", "EntityHandle", "Text")
            if c in gdf.columns]
    out = gdf.loc[keep, [*cols, gdf.geometry.name]].copy()
    out = out.rename(columns={"Layer": "cad_layer", "EntityHandle": "handle"})
    return out, cad_layer or (poly_layers[0] if poly_layers else None), notes

