"""The 用地预审 report as PDF on A4: headless Chromium prints the HTML report.

Debian's ``chromium`` (``/usr/bin/chromium``) renders the page of
:func:`ecogis.reports.html.render_review_html` with its print stylesheet (``@page`` A4) and
embeds the CJK fonts it used (Noto CJK / WenQuanYi from ``fonts-noto-cjk`` and
``fonts-wqy-zenhei``). It runs with a fresh profile, no network services and a timeout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ecogis.errors import InputError

#: where to look for a Chromium, in order (``$ECOGIS_CHROMIUM`` first)
CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-pdf-header-footer")


def find_chromium() -> str | None:
    """The Chromium executable to print with, or None when there is none."""
    env = os.environ.get("ECOGIS_CHROMIUM")
    for c in ((env,) if env else ()) + CANDIDATES:
        p = shutil.which(c) if not os.path.isabs(c) else (c if os.access(c, os.X_OK) else None)
        if p:
            return p
    return None


def html_to_pdf(page: str, path: str | os.PathLike, *, timeout: float = 120.0) -> Path:
    """Print the HTML ``page`` to the PDF ``path`` with headless Chromium; return the path."""
    exe = find_chromium()
    if exe is None:
        raise InputError("PDF output needs Chromium, which was not found",
                         fix="apt-get install chromium (or set ECOGIS_CHROMIUM to its path), "
                         "or write --format docx / html")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ecogis-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(page, encoding="utf-8")
        pdf = Path(tmp) / "report.pdf"
        cmd = [exe, *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--print-to-pdf={pdf}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False,
                                  env={**os.environ, "HOME": tmp})
        except subprocess.TimeoutExpired:
            raise InputError(f"Chromium did not finish printing the PDF in {timeout:g} s",
                             file=str(out), fix="retry, or write --format docx") from None
        if not pdf.is_file() or pdf.stat().st_size == 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise InputError(f"Chromium did not write the PDF (exit {proc.returncode}: "
                             f"{err[0][:200]})", file=str(out),
                             fix="check that chromium runs headless here, or write --format docx")
        from ecogis.atomic import atomic_write_bytes

        atomic_write_bytes(out, pdf.read_bytes())
    return out


def write_pdf(result, path: str | os.PathLike, *, unit: str | None = None) -> Path:
    """Write the 用地预审 report of ``result`` to ``path`` as PDF on A4."""
    from ecogis.reports.html import render_review_html

    return html_to_pdf(render_review_html(result, unit=unit, interactive=False), path)
