"""Schemathesis against the live server's OpenAPI schema: no request may end in a 5xx.

Bounded: a few examples per operation (``max_examples``), one uvicorn process on loopback
serving a GeoPackage workspace with a real district boundary and control lines.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from test_serve import STAFF, Server, auth, build_workspace

pytestmark = pytest.mark.slow
MAX_EXAMPLES = int(os.environ.get("ECOGIS_SCHEMATHESIS_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def live(anju, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schema")
    srv = Server(build_workspace(str(tmp / "ws.gpkg"), anju), tmp, "--timeout", "30")
    yield srv
    srv.stop()


def test_no_request_ends_in_a_server_error(live):
    from hypothesis import given

    api = schemathesis.openapi.from_url(live.url + "/openapi.json")
    ops = [r.ok() for r in api.get_all_operations()]
    assert {"/check", "/layers", "/areas", "/reconcile"} <= {op.path for op in ops}
    seen: list[tuple[str, str, int]] = []
    for op in ops:
        @given(case=op.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(base_url=live.url, headers=auth(STAFF), timeout=60)
            case.validate_response(response, checks=[not_a_server_error])
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                assert set(response.json()) == {"error", "status"}, response.text
            seen.append((case.method, case.path, response.status_code))

        run()
    assert len(seen) >= len(ops)
    assert all(code < 500 for *_, code in seen)
