"""Copy a workspace's layers, their provenance and its metadata into another workspace.

The way a bureau moves a GeoPackage workspace onto its PostGIS server (and back):
``copy_workspace("anju.gpkg", "postgresql://gis@server/planning")``.
"""

from __future__ import annotations

import os

from ecogis.workspace import Workspace


def copy_workspace(src: Workspace | str | os.PathLike, dst: Workspace | str | os.PathLike, *,
                   names: list[str] | None = None, meta: bool = True) -> Workspace:
    """Copy layers (all, or ``names``) with their ``ecogis_layers`` rows, and the metadata.

    One transaction on ``dst`` (created when missing); layers keep their CRS, feature ids
    (``src_fid``), kind and provenance (source, sha256, CRS and encoding sources, repairs).
    A PostGIS workspace holds no rasters: its raster registry (``rasters``) refers to the
    source's rasters by absolute GDAL name (``GPKG:/path/ws.gpkg:dem``, or a file path), so
    indicators read them where they are.
    Returns the destination workspace.
    """
    s = src if isinstance(src, Workspace) else Workspace.open(src)
    d = dst if isinstance(dst, Workspace) else Workspace.open(dst, create=True)
    from ecogis.storage.postgis import PostGISWorkspace

    with d.transaction():
        for info in s.layers():
            if names is not None and info.name not in names:
                continue
            d.write(info.name, s.read(info.name, roles=False), info.kind or "generic",
                    source=info.source, field_map=info.field_map,
                    source_layer=info.source_layer, sha256=info.sha256,
                    crs_source=info.crs_source, encoding=info.encoding,
                    encoding_source=info.encoding_source, repairs=info.repairs,
                    synthetic=info.synthetic, extra=info.extra)
        if meta:
            values = dict(s.meta)
            if isinstance(d, PostGISWorkspace) and values.get("rasters"):
                from dataclasses import asdict
                from pathlib import Path

                from ecogis.raster import list_rasters

                values["rasters"] = [
                    dict(asdict(r), path=r.path if r.path.startswith("GPKG:")
                         else str(Path(r.path).resolve())) for r in list_rasters(s)]
            if values:
                d.set_meta(**values)
    return d
