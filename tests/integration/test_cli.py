"""The `contact-center` command: help everywhere, clear configuration errors, migrate, users, serve, demo."""

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from contact_center.cli import main
from tests.services import POSTGRES_URL, postgres_problem, require


def all_commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.fixture
def sqlite_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CC_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_every_command_has_help():
    runner = CliRunner()
    commands = list(all_commands(main))
    assert {("serve",), ("demo",), ("migrate",), ("user", "add"), ("import", "customers")} <= set(commands)
    for path in [(), *commands]:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_malformed_setting_is_a_clear_error_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CC_PUBLIC_URL", "ftp:/nowhere")
    result = CliRunner().invoke(main, ["migrate"])
    assert result.exit_code == 1
    assert "CC_PUBLIC_URL" in result.output and "Traceback" not in result.output


def test_migrate_then_add_and_list_users(sqlite_env, monkeypatch):
    runner = CliRunner()
    first = runner.invoke(main, ["migrate"])
    assert first.exit_code == 0 and "Migrated from an empty database" in first.output
    assert "Already at the newest revision" in runner.invoke(main, ["migrate"]).output
    monkeypatch.setenv("CC_NEW_USER_PASSWORD", "a-long-password")
    added = runner.invoke(
        main,
        [
            "user",
            "add",
            "Maria",
            "--role",
            "supervisor",
            "--team",
            "Night",
            "--skill",
            "billing:7",
            "--language",
            "es",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "Created supervisor maria" in added.output
    bad = runner.invoke(main, ["user", "add", "x", "--skill", "billing"])
    assert bad.exit_code != 0 and "NAME:LEVEL" in bad.output
    taken = runner.invoke(main, ["user", "add", "maria"])
    assert taken.exit_code == 1 and "taken" in taken.output
    listed = runner.invoke(main, ["user", "list"])
    assert re.search(r"maria\s+supervisor\s+active\s+billing:7", listed.output)


@pytest.mark.postgres
def test_serve_refuses_an_unmigrated_postgres_database(monkeypatch, tmp_path):
    require(postgres_problem())
    import asyncpg

    name = f"cc_empty_{uuid.uuid4().hex[:8]}"
    admin_dsn = POSTGRES_URL.replace("postgresql+asyncpg", "postgresql")

    async def admin(sql):
        connection = await asyncpg.connect(admin_dsn)
        await connection.execute(sql)
        await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("CC_DATABASE_URL", POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}")
        result = CliRunner().invoke(main, ["serve", "--port", "1"])
        assert result.exit_code == 1
        assert "Run `contact-center migrate` first" in result.output
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_starts_on_embedded_defaults_and_its_logins_work(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CC_", "TWILIO_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "contact_center", "demo", "--port", str(port), "--customers", "15"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "demo did not start within 60 s"
                time.sleep(0.3)
        request = urllib.request.Request(
            f"{base}/api/auth/login",
            method="POST",
            data=b'{"username": "alice", "password": "demo-password"}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"http://localhost:{port}/" in output and "alice" in output and "demo-password" in output
    assert Path(tmp_path, "data", "demo", "contact_center.db").exists()
