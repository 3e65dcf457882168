"""Progress bars: stderr only, only at a terminal, never with --quiet."""

from __future__ import annotations

import io
import json

import pytest

from ecogis import progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture()
def tty(monkeypatch):
    """Make stderr a terminal (set in the test body: pytest's capture resets it after
    fixtures run)."""
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.delenv("ECOGIS_QUIET", raising=False)

    def make():
        err = _Tty()
        monkeypatch.setattr("sys.stderr", err)
        return err

    return make


def test_bar_drawn_at_a_terminal(tty):
    tty = tty()
    assert progress.enabled()
    assert list(progress.track(range(50), total=50, desc="步骤")) == list(range(50))
    with progress.bar(10, desc="sites") as b:
        b.update(10)
    text = tty.getvalue()
    assert "步骤" in text and "/50" in text and "sites" in text


def test_no_bar_when_quiet_or_not_a_terminal(tty, monkeypatch):
    tty = tty()
    progress.set_quiet()
    try:
        assert not progress.enabled()
        assert list(progress.track([1, 2], desc="x")) == [1, 2]
        assert tty.getvalue() == ""
    finally:
        progress.set_quiet(False)
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a pipe or file: no bar
    assert not progress.enabled()


def test_quiet_flag_before_the_command(run_cli, monkeypatch):
    monkeypatch.delenv("ECOGIS_QUIET", raising=False)
    code, out, err = run_cli("--quiet", "kinds", "--format", "json")
    assert code == 0 and json.loads(out)["kinds"] and err == ""
    import os

    assert os.environ.get("ECOGIS_QUIET") == "1"
    progress.set_quiet(False)
