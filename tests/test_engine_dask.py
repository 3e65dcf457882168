"""--engine dask: the same numbers as the in-process engine, on a real dask cluster."""

from __future__ import annotations

import json
import time

import pytest
from overlay_workspace import build_workspace
from pytest import approx

distributed = pytest.importorskip("distributed")

from test_output_scale import batch  # noqa: E402, F401  (fixtures)
from test_siting import origin, workspace, world  # noqa: E402, F401  (fixtures)


@pytest.fixture(autouse=True)
def _every_step_on_the_cluster(monkeypatch):
    """Small test data: send even the smallest steps to the cluster."""
    monkeypatch.setenv("ECOGIS_DASK_MIN_ITEMS", "0")
    monkeypatch.setenv("ECOGIS_DASK_MIN_PAIRS", "0")


@pytest.fixture(scope="module")
def cluster():
    """Two in-process workers (processes=False keeps the test fast and bounded)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as c, distributed.Client(c) as client:
        yield c.scheduler_address, client


@pytest.fixture(scope="module")
def overlay_ws(tmp_path_factory, anju):
    path = tmp_path_factory.mktemp("dask") / "anju_overlay.gpkg"
    build_workspace(path, anju)
    return path


def _close(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == approx(b, rel=1e-9, abs=1e-9), path
    else:
        assert a == b, path


def test_overlaps_on_dask_equal_local(run_cli, overlay_ws, cluster):
    address, client = cluster
    code, local, err = run_cli("overlaps", overlay_ws, "--format", "json", "--unit", "m2",
                               "--conflicts", "--by", "admin")
    assert code == 0, err
    with distributed.get_task_stream(client) as ts:
        code, remote, err = run_cli("overlaps", overlay_ws, "--format", "json", "--unit", "m2",
                                    "--conflicts", "--by", "admin", "--engine", "dask",
                                    "--scheduler", address)
    assert code == 0, err
    assert len(ts.data) > 0  # the work really ran as cluster tasks
    a, b = json.loads(local), json.loads(remote)
    for key in ("layers", "matrix", "rules", "conflicts", "by", "conflicts_total"):
        _close(a[key], b[key], key)


def test_check_on_dask_equal_local(run_cli, workspace, batch, cluster):  # noqa: F811
    address, client = cluster
    path, _ = batch
    code, local, err = run_cli("check", workspace, path, "--format", "jsonl", "--chunk", "64")
    assert code == 0, err
    with distributed.get_task_stream(client) as ts:
        code, remote, err = run_cli("check", workspace, path, "--format", "jsonl", "--chunk",
                                    "64", "--engine", "dask", "--scheduler", address)
    assert code == 0, err
    assert len(ts.data) >= 5  # 300 sites in chunks of 64, one task each
    assert [json.loads(x) for x in remote.splitlines()] == [
        json.loads(x) for x in local.splitlines()]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "localhost:8786"])
def test_dead_or_wrong_scheduler_is_exit_2(run_cli, overlay_ws, address, monkeypatch):
    monkeypatch.setenv("ECOGIS_DASK_TIMEOUT", "2")
    t = time.perf_counter()
    code, out, err = run_cli("overlaps", overlay_ws, "--format", "json", "--engine", "dask",
                             "--scheduler", address)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "scheduler" in err and "fix:" in err
    assert time.perf_counter() - t < 30


def test_scheduler_without_dask_engine_is_exit_2(run_cli, overlay_ws):
    code, _, err = run_cli("overlaps", overlay_ws, "--scheduler", "tcp://127.0.0.1:8786")
    assert code == 2 and "--engine dask" in err


def test_check_dask_only_for_json(run_cli, workspace, batch):  # noqa: F811
    path, _ = batch
    for extra in (["--engine", "dask"], ["--scheduler", "tcp://127.0.0.1:9"]):
        code, out, err = run_cli("check", workspace, path, *extra)
        assert code == 2 and "json" in err and out == ""
