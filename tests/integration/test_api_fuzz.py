"""Every operation of /api/openapi.json tried by schemathesis against a real server process, as an
administrator: no answer may be a server error (5xx). Bounded: 5 examples per operation (about a minute);
the server errors it found have tests of their own in test_api_bad_input.py.

The server is `contact-center serve` in a subprocess on a SQLite file (the API's behaviour on PostgreSQL is
tested elsewhere); its administrator is made with `contact-center user add` and signs in through the API.
Operations that would lock the fuzzer itself out (its own token revoked, its session ended, its user
changed) are left out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

PASSWORD = "fuzz-admin-password-1"
LOCKOUTS = {
    ("DELETE", "/api/auth/tokens/{id}"),
    ("POST", "/api/auth/logout"),
    ("PATCH", "/api/users/{id}"),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cli(*args: str, env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "contact_center", *args]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server process and an administrator's bearer token."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CC_DATA_DIR": str(tmp_path_factory.mktemp("fuzz")),
        "CC_SECRET_KEY": "fuzz-secret-key-of-enough-length",
        "CC_PUBLIC_URL": base,
        "CC_DATABASE_URL": "",
        "CC_REDIS_URL": "",
        "CC_NEW_USER_PASSWORD": PASSWORD,
    }
    _cli("migrate", env=env)
    _cli("user", "add", "fuzz-admin", "--role", "admin", env=env)
    log = Path(env["CC_DATA_DIR"]) / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "contact_center", "serve", "--port", str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        token = _admin_token(base)
        yield base, token
    finally:
        server.terminate()
        server.wait(timeout=20)


def _admin_token(base: str) -> str:
    session = requests.Session()
    for _ in range(100):
        try:
            if session.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    else:
        raise AssertionError("the server did not start")
    signed_in = session.post(f"{base}/api/auth/login", json={"username": "fuzz-admin", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    csrf = session.get(f"{base}/api/auth/me").json()["csrf_token"]
    issued = session.post(f"{base}/api/auth/tokens", json={"name": "fuzz"}, headers={"X-CSRF-Token": csrf})
    assert issued.status_code == 201, issued.text
    return issued.json()["token"]


@pytest.fixture(scope="module")
def api_schema(api_server: tuple[str, str]) -> schemathesis.BaseSchema:
    base, _ = api_server
    return schemathesis.openapi.from_url(f"{base}/api/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
for _method, _path in sorted(LOCKOUTS):
    schema = schema.exclude(method=_method, path=_path)


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_operation_answers_a_server_error(case: schemathesis.Case, api_server: tuple[str, str]) -> None:
    _, token = api_server
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    case.validate_response(response, checks=[not_a_server_error])
    if case.operation.path != "/api/auth/login":  # the fuzzer must stay signed in, or it tests nothing
        assert response.status_code != 401, f"{case.method} {case.path}: the fuzzer's token stopped working"
