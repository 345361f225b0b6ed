"""`ardiq dashboard` as a command: the address it prints, a port in use,
and a token made when actions are allowed without one."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx

from .harness import DashboardProcess


def test_a_port_in_use_is_one_line_and_exit_code_1(redis_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        done = subprocess.run(
            [sys.executable, "-m", "ardiq", "dashboard", "--url", redis_url, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"ardiq: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_actions_without_a_token_get_a_made_one_that_signs_in(redis_url: str) -> None:
    dashboard = DashboardProcess("--url", redis_url, "--allow-actions")
    try:
        lines = dashboard.output().splitlines()
        assert "(actions allowed with the token)" in lines[0]
        token = lines[1].removeprefix("token (sign in with it to act): ")
        assert len(token) >= 32

        wrong = httpx.post(dashboard.url + "/login", data={"token": token + "x"})
        right = httpx.post(dashboard.url + "/login", data={"token": token})

        assert wrong.status_code == 403
        assert right.status_code == 303
        assert "ardiq_dashboard=" in right.headers["set-cookie"]
        assert "httponly" in right.headers["set-cookie"].lower()
        assert "samesite=strict" in right.headers["set-cookie"].lower()
    finally:
        dashboard.kill()


def test_the_default_is_read_only_on_loopback(redis_url: str) -> None:
    dashboard = DashboardProcess("--url", redis_url)
    try:
        assert dashboard.url.startswith("http://127.0.0.1:")
        assert "(read-only)" in dashboard.output()
        page = httpx.get(dashboard.url + "/")
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert 'data-mode="read-only"' in page.text
    finally:
        dashboard.kill()


def test_a_request_to_another_host_name_gets_400(redis_url: str) -> None:
    # A page elsewhere that points its own name at 127.0.0.1 sends that name.
    dashboard = DashboardProcess("--url", redis_url)
    try:
        port = dashboard.url.rsplit(":", 1)[1]
        foreign = httpx.get(dashboard.url + "/", headers={"host": f"attacker.example:{port}"})
        served = httpx.get(dashboard.url + "/")
        named = httpx.get(dashboard.url + "/", headers={"host": f"localhost:{port}"})

        assert foreign.status_code == 400
        assert "ardiq" not in foreign.text.lower()
        assert served.status_code == 200
        assert named.status_code == 200
    finally:
        dashboard.kill()


def test_allowed_hosts_are_answered_besides_loopback(redis_url: str) -> None:
    dashboard = DashboardProcess(
        "--url", redis_url, "--allowed-host", "ops.example.com", "--allowed-host", "*.internal.example"
    )
    try:
        replies = {
            host: httpx.get(dashboard.url + "/", headers={"host": host}).status_code
            for host in ("ops.example.com", "ops.example.com:443", "a.internal.example", "example.com")
        }

        assert replies == {
            "ops.example.com": 200,
            "ops.example.com:443": 200,
            "a.internal.example": 200,
            "example.com": 400,
        }
    finally:
        dashboard.kill()
