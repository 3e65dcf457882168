"""Every public test file of GDAL, Fiona, pyogrio and pyshp: read right or refused in one line.

The files live in ``../shared/realdata/peers`` (or ``$ECOGIS_PEERS``) and are never committed;
the test skips when they are absent. Nearly all lie outside China, so most are refused
("outside China's land and sea area"); what matters is that none crashes, none is read with
mojibake, and every refusal is one line naming the file and a fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecogis.errors import EcogisError

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = [os.environ.get("ECOGIS_PEERS"), REPO.parent / "shared/realdata/peers",
              REPO.parent.parent / "shared/realdata/peers"]
PEERS = next((Path(p) for p in CANDIDATES if p and Path(p).is_dir()), None)
SUFFIXES = {".shp", ".geojson", ".json", ".gpkg", ".fgb", ".zip", ".tab", ".mif", ".dxf",
            ".kml", ".kmz", ".csv", ".xlsx", ".gml", ".gpx", ".dbf", ".txt", ".dwg"}

pytestmark = [pytest.mark.skipif(PEERS is None, reason="../shared/realdata/peers not present"),
              pytest.mark.filterwarnings("ignore::UserWarning")]


def peer_files() -> list[Path]:
    if PEERS is None:
        return []
    return sorted(f for f in PEERS.rglob("*")
                  if (f.is_file() and f.suffix.lower() in SUFFIXES)
                  or (f.is_dir() and f.suffix.lower() == ".gdb"))


def test_every_peer_file_read_or_refused_in_one_line():
    from ecogis.io import read_vector

    files = peer_files()
    assert len(files) > 50
    outcomes = {}
    for f in files:
        try:
            gdf, rep = read_vector(f, warn=False)
        except EcogisError as exc:
            msg = str(exc)
            assert "\n" not in msg, (f, msg)
            assert f.name in msg or f.stem in msg, (f, msg)
            assert "(fix: " in msg, (f, msg)
            outcomes[f] = "refused"
            continue
        except Exception as exc:  # a crash: the test fails naming the file
            pytest.fail(f"{f}: {type(exc).__name__}: {exc}")
        assert len(gdf) > 0 and gdf.crs is not None
        outcomes[f] = "read"
    # the known traps are caught for the right reason
    by_name = {f.relative_to(PEERS).as_posix(): f for f in files}
    for rel, why in (("gdal/shp/gjpoly.shp", "outside China's land and sea"),  # Sumatra-like
                     ("pyshp/tests/shapefiles/corrupt_too_long.shp", "truncated"),
                     ("gdal/shp/chinese.dbf", ".dbf alone")):
        if rel in by_name:
            with pytest.raises(EcogisError, match=why):
                read_vector(by_name[rel], warn=False)


@pytest.mark.parametrize("rel,codec,text", [
    ("gdal/shp/chinese.dbf", "gbk", "中国"),
    ("pyshp/tests/shapefiles/latin1.dbf", "latin-1", "Ñandú"),
    ("gdal/shp/departs.dbf", "latin-1", "NOMDéPART"),
    ("fiona/tests/data/gre.dbf", "utf-8", "Гренада"),
    ("pyogrio/pyogrio/tests/fixtures/naturalearth_lowres/naturalearth_lowres.dbf", "latin-1",
     "Côte d'Ivoire"),
])
def test_peer_dbf_encodings_detected(rel, codec, text):
    from ecogis.formats.encoding import decode_value, detect
    from ecogis.formats.shapefile import dbf_text

    f = PEERS / rel
    if not f.exists():
        pytest.skip(f"{rel} absent")
    values = dbf_text(f)
    det = detect(values)
    assert det.codec == codec, det.describe()
    decoded = {decode_value(v, codec, full=full)[0] for v, full in values}
    assert text in decoded
