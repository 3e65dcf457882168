"""Workspace guarantees (issue 13): one writer at a time, readers never broken, stale temp files
cleaned and reported, read-only and corrupt workspaces refused in one line, kills leave the
previous state intact. Concurrency and kills use real ``ecogis`` subprocesses."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from ecogis.errors import InputError, WorkspaceBusyError
from ecogis.workspace import Workspace, is_workspace, lock_path, write_lock

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def ecogis(*args, timeout=120) -> subprocess.CompletedProcess:
    """Run ``ecogis`` in this process (fast); the result looks like a finished subprocess."""
    import contextlib
    import io
    import warnings

    from ecogis.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("always")
        code = main([str(a) for a in args])
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def spawn(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ecogis.cli", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def boxes_file(path: Path, n: int = 3, x0: float = 105.30, name: str = "红线") -> Path:
    geoms = [shapely.box(x0 + 0.01 * i, 30.30, x0 + 0.01 * i + 0.005, 30.305) for i in range(n)]
    gpd.GeoDataFrame({"name": [f"{name}{i}" for i in range(n)]}, geometry=geoms,
                     crs=4490).to_file(path, driver="GPKG")
    return path


@pytest.fixture()
def ws(tmp_path) -> Path:
    p = tmp_path / "ws.gpkg"
    r = ecogis("import", p, "redline", boxes_file(tmp_path / "red.gpkg"))
    assert r.returncode == 0, r.stderr
    return p


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("ecogis: error")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "fix:" in lines[0]
    return lines[0]


def layer_names(p: Path) -> set[str]:
    return {str(n) for n, _ in pyogrio.list_layers(p)} - {"ecogis_layers", "ecogis_meta"}


def hidden(folder: Path) -> list[str]:
    return sorted(q.name for q in folder.iterdir() if ".tmp." in q.name)


# ------------------------------------------------------------------------------ one writer
def test_two_concurrent_imports_both_land(tmp_path, ws):
    files = [boxes_file(tmp_path / f"f{i}.gpkg", x0=105.4 + 0.05 * i) for i in range(2)]
    procs = [spawn("import", ws, "farmland", f, "--name", f"farm{i}")
             for i, f in enumerate(files)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {"redline", "farm0", "farm1"} <= layer_names(ws)
    assert hidden(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_four_concurrent_imports_all_land(tmp_path, ws):
    files = [boxes_file(tmp_path / f"g{i}.gpkg", x0=105.4 + 0.05 * i) for i in range(4)]
    procs = [spawn("import", ws, "ugb", f, "--name", f"ugb{i}") for i, f in enumerate(files)]
    for p in procs:
        p.communicate(timeout=180)
    assert all(p.returncode == 0 for p in procs)
    assert {f"ugb{i}" for i in range(4)} <= layer_names(ws)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_second_writer_waits_with_a_message_then_succeeds(tmp_path, ws):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from ecogis.workspace import write_lock\n"
        f"with write_lock({str(ws)!r}):\n    print('held', flush=True); time.sleep(12)\n")],
        env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    r = ecogis("import", ws, "ugb", boxes_file(tmp_path / "u.gpkg"), "--name", "u")
    holder.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert "another ecogis process is writing it; waiting" in r.stderr
    assert time.monotonic() - t0 >= 0.5
    assert "u" in layer_names(ws)


def test_second_writer_fails_clearly_after_wait(tmp_path, ws):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from ecogis.workspace import write_lock\n"
        f"with write_lock({str(ws)!r}):\n    print('held', flush=True); time.sleep(20)\n")],
        env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = ws.read_bytes()
        r = ecogis("import", ws, "ugb", boxes_file(tmp_path / "u.gpkg"), "--wait", "0.5")
        line = one_line_error(r)
        assert "still writing it after 0.5 s" in line and str(ws) in line
        assert ws.read_bytes() == before
    finally:
        holder.kill()
        holder.wait()


def test_write_lock_in_process_times_out(tmp_path):
    p = tmp_path / "x.gpkg"
    with write_lock(p):
        r = subprocess.run([sys.executable, "-c", (
            "from ecogis.workspace import write_lock\n"
            "from ecogis.errors import WorkspaceBusyError\n"
            f"try:\n    with write_lock({str(p)!r}, wait=0.2): print('got')\n"
            "except WorkspaceBusyError as e: print('busy', e)\n")], env=ENV,
            capture_output=True, text=True, timeout=30)
        assert r.stdout.startswith("busy") and "--wait" in r.stdout
    assert issubclass(WorkspaceBusyError, TimeoutError)
    assert lock_path(p).exists()


def test_readers_are_not_blocked_by_a_writer(tmp_path, ws):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from ecogis.workspace import write_lock\n"
        f"with write_lock({str(ws)!r}):\n    print('held', flush=True); time.sleep(20)\n")],
        env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = ecogis("layers", ws, "--format", "json", timeout=60)
        assert r.returncode == 0, r.stderr
        r = ecogis("areas", ws, "--format", "json", timeout=60)
        assert r.returncode == 0 and json.loads(r.stdout)["layers"], r.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_readers_during_writes_always_see_a_whole_workspace(tmp_path, ws):
    files = [boxes_file(tmp_path / f"r{i}.gpkg", x0=105.4 + 0.02 * i) for i in range(3)]
    writers = [spawn("import", ws, "ugb", f, "--name", f"w{i}") for i, f in enumerate(files)]
    seen = 0
    while any(w.poll() is None for w in writers):
        assert is_workspace(ws)
        names = set(Workspace.open(ws).names())
        assert "redline" in names
        seen += 1
    for w in writers:
        w.communicate()
        assert w.returncode == 0
    assert seen >= 1 and {"w0", "w1", "w2"} <= layer_names(ws)


# ---------------------------------------------------------------------------- stale temps
def test_stale_temps_are_cleaned_and_reported(tmp_path, ws):
    junk = [tmp_path / ".ws.abc123.tmp.gpkg", tmp_path / ".ws.abc123.tmp.gpkg-journal"]
    for j in junk:
        j.write_bytes(b"x" * 1000)
    other = tmp_path / ".other.abc.tmp.gpkg"  # another workspace's temp: left alone
    other.write_bytes(b"y")
    r = ecogis("layers", ws)
    assert r.returncode == 0, r.stderr
    assert "removed 2 stale temp file(s)" in r.stderr
    assert not any(j.exists() for j in junk) and other.exists()


def test_temps_of_a_live_writer_are_not_removed(tmp_path, ws):
    live = tmp_path / ".ws.live.tmp.gpkg"
    live.write_bytes(b"z")
    with write_lock(ws), _no_warning():
        Workspace.open(ws)
    assert live.exists()


class _no_warning:
    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings(record=True)
        self.caught = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        assert not [w for w in self.caught if "stale temp" in str(w.message)]


# ---------------------------------------------------------------------------- permissions
def test_read_only_workspace_file(tmp_path, ws):
    before = ws.read_bytes()
    ws.chmod(0o444)
    try:
        line = one_line_error(ecogis("import", ws, "ugb", boxes_file(tmp_path / "u.gpkg")))
        assert str(ws) in line and "read-only" in line and "chmod u+w" in line
        assert ws.read_bytes() == before
        # reading a read-only workspace still works
        assert ecogis("layers", ws).returncode == 0
    finally:
        ws.chmod(0o644)


def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    ws = folder / "ws.gpkg"
    assert ecogis("import", ws, "redline", boxes_file(tmp_path / "r.gpkg")).returncode == 0
    folder.chmod(0o555)
    try:
        line = one_line_error(ecogis("import", ws, "ugb", boxes_file(tmp_path / "u.gpkg")))
        assert str(folder) in line and "read-only" in line
        assert hidden(folder) == []
        assert ecogis("areas", ws, "--format", "json").returncode == 0
    finally:
        folder.chmod(0o755)


def test_read_only_folder_for_a_new_workspace(tmp_path):
    folder = tmp_path / "ro2"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = one_line_error(ecogis("import", folder / "new.gpkg", "redline",
                                     boxes_file(tmp_path / "r.gpkg")))
        assert str(folder) in line
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_overlaps_out_into_read_only_folder(tmp_path, ws):
    folder = tmp_path / "out"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = one_line_error(ecogis("overlaps", ws, "--out", folder / "c.gpkg"))
        assert str(folder) in line
    finally:
        folder.chmod(0o755)


def test_refused_import_leaves_no_new_workspace(tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ not json", encoding="utf-8")
    new = tmp_path / "new.gpkg"
    r = ecogis("import", new, "redline", bad)
    assert r.returncode == 2, r.stderr
    assert not new.exists() and hidden(tmp_path) == []


def test_unknown_kind_leaves_no_new_workspace(tmp_path):
    new = tmp_path / "new2.gpkg"
    r = ecogis("import", new, "no_such_kind", boxes_file(tmp_path / "r.gpkg"))
    assert r.returncode == 2 and not new.exists()


# -------------------------------------------------------------------------------- corrupt
def test_truncated_workspace_is_called_corrupt(tmp_path, ws):
    data = ws.read_bytes()
    ws.write_bytes(data[: len(data) // 2])
    line = one_line_error(ecogis("layers", ws))
    assert "corrupt" in line and "not an ecogis workspace" not in line and str(ws) in line


def test_garbled_workspace_is_called_corrupt(tmp_path, ws):
    data = bytearray(ws.read_bytes())
    data[100:4096] = os.urandom(3996)  # header kept, schema page destroyed
    ws.write_bytes(bytes(data))
    line = one_line_error(ecogis("areas", ws))
    assert "corrupt" in line


def test_empty_file_is_not_a_workspace(tmp_path):
    p = tmp_path / "empty.gpkg"
    p.write_bytes(b"")
    line = one_line_error(ecogis("layers", p))
    assert "empty file" in line


def test_plain_geopackage_is_still_not_a_workspace(tmp_path):
    p = boxes_file(tmp_path / "plain.gpkg")
    with pytest.raises(InputError, match="not an ecogis workspace"):
        Workspace.open(p)


def test_sqlite_but_not_geopackage_tables(tmp_path):
    p = tmp_path / "db.gpkg"
    with sqlite3.connect(p) as con:
        con.execute("CREATE TABLE t (a)")
    line = one_line_error(ecogis("layers", p))
    assert str(p) in line


# ---------------------------------------------------------------------------------- kills
def _kill_at_random(args, *, tries: int, max_delay: float, seed: int):
    rng = random.Random(seed)
    for _ in range(tries):
        p = spawn(*args)
        time.sleep(rng.uniform(0.05, max_delay))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkill_import_keeps_the_workspace(tmp_path, ws):
    before = ws.read_bytes()
    big = boxes_file(tmp_path / "big.gpkg", n=3000)
    _kill_at_random(["import", ws, "farmland", big, "--name", "big"], tries=4, max_delay=2.5,
                    seed=1)
    now = ws.read_bytes()
    assert now == before or "big" in layer_names(ws)  # the old file whole, or the new one
    assert is_workspace(ws) and "redline" in layer_names(ws)
    r = ecogis("layers", ws)  # next open: stale temps gone
    assert r.returncode == 0 and hidden(tmp_path) == []


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("command", ["overlaps", "diff", "map"])
def test_sigkill_output_writers_leave_no_partial_file(tmp_path, ws, command):
    assert ecogis("import", ws, "farmland", boxes_file(tmp_path / "f.gpkg", n=50, x0=105.301),
                  "--name", "farm").returncode == 0
    out = tmp_path / ("out.html" if command == "map" else "out.gpkg")
    args = {"overlaps": ["overlaps", ws, "--out", out],
            "diff": ["diff", f"{ws}:redline", f"{ws}:farm", "--out", out],
            "map": ["map", ws, "--out", out]}[command]
    ok = ecogis(*args)
    assert ok.returncode in (0, 1), ok.stderr
    previous = out.read_bytes()
    _kill_at_random(args, tries=4, max_delay=3.0, seed=2)
    assert out.read_bytes() == previous or out.stat().st_size > 0
    if command != "map":
        assert len(pyogrio.list_layers(out))  # a whole GeoPackage under the final name
    else:
        assert out.read_text(encoding="utf-8").rstrip().endswith("</html>")
