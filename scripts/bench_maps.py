"""Map benchmark: the 安居区 demo size (≈30 000 synthetic farmland parcels on the real boundary).

Run (takes about a minute on 2 cores)::

    python scripts/bench_maps.py [OUTDIR]

Prints, per variant (farmland dissolved by town / every parcel / public: 0.0005° grid): build and
save time, HTML size, vertices drawn, and the wall time headless Chromium needs to open and
screenshot the page, minus the same for a blank page (browser start-up).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _mapdata as md  # noqa: E402

from ecogis.maps import MapLayer, make_map, read_sites, save_map  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")


def open_seconds(page: Path, work: Path) -> float | None:
    if not CHROMIUM.exists():
        return None
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
           "--disable-background-networking", f"--user-data-dir={work / 'profile'}",
           "--window-size=1400,1000", f"--screenshot={work / (page.stem + '.png')}",
           page.resolve().as_uri()]
    best = None
    for _ in range(2):
        t = time.perf_counter()
        subprocess.run(cmd, capture_output=True, timeout=300, check=True)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="ecogis-map-"))
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    farmland = md.farmland(n=50_000, share=0.6)
    layers = [("region", "admin", md.region()), ("towns", "admin", md.towns()),
              ("redline", "redline", md.redline()), ("parks", "protected_area", md.protected())]
    check = out / "check.json"
    check.write_text(json.dumps(md.sites_check(), ensure_ascii=False), encoding="utf-8")
    sites = read_sites(check)
    print(f"synthetic data: {len(farmland):,} parcels in {time.perf_counter() - t:.1f} s")
    blank = out / "blank.html"
    blank.write_text("<html><body>blank</body></html>", encoding="utf-8")
    base = open_seconds(blank, out)
    for label, dissolve, public in [("dissolved", None, False), ("parcels", False, False),
                                    ("public", None, True)]:
        t = time.perf_counter()
        m = make_map([*layers, MapLayer("farmland", "farmland", farmland, dissolve=dissolve)],
                     title="安居区 三区三线示意图", synthetic=True, sites=sites, public=public,
                     include_nonpublic=True)  # sites are non-public: shown here on purpose
        page = save_map(m, out / f"anju_{label}.html")
        build = time.perf_counter() - t
        opened = open_seconds(page, out)
        shown = f"{opened - base:.2f} s (+{base:.2f} s start-up)" if opened else "n/a"
        print(f"{label}: build+save {build:.1f} s, {page.stat().st_size / 1e6:.2f} MB, "
              f"{m.ecogis.vertices:,} vertices, {m.ecogis.renderer}, open+render {shown}")
        for s in m.ecogis.layers:
            print(f"    {s.name:9s} features {s.features_in:>6,} -> {s.features_out:>6,}  "
                  f"vertices {s.vertices_in:>7,} -> {s.vertices_out:>7,}  "
                  f"tol {s.tolerance_m:g} m  {s.method}")


if __name__ == "__main__":
    main()
