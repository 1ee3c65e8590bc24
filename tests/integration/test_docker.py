"""The compose file validates, and every command it runs is one the CLI has."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from contact_center.cli import main
from tests.services import IN_CI

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yml"


def test_compose_file_validates():
    tool = shutil.which("docker-compose")
    if tool is None:
        message = "docker-compose is not installed (apt-get install docker-compose)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, "CC_SECRET_KEY": "x" * 32},
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_commands_exist_in_the_cli():
    commands = re.findall(r'command: \["(\w+)"', COMPOSE.read_text())
    assert set(commands) == {"migrate", "serve"}
    for command in commands:
        assert CliRunner().invoke(main, [command, "--help"]).exit_code == 0


def test_compose_runs_three_app_processes_behind_a_proxy_made_for_socket_io():
    import yaml

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    apps = sorted(name for name in services if name.startswith("app-"))
    assert apps == ["app-1", "app-2", "app-3"]
    volumes = {name: services[name]["volumes"][0].split(":")[0] for name in apps}
    assert len(set(volumes.values())) == 3, "each process needs its own data directory (its webhook inbox)"
    for name in apps:
        service = services[name]
        assert service["command"][0] == "serve" and "healthcheck" in service
        assert service["environment"]["CC_REDIS_URL"].startswith("redis://")
    proxy = services["proxy"]
    assert set(proxy["depends_on"]) == set(apps)
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert "--appendonly" in services["redis"]["command"]
    config = (COMPOSE.parent / "nginx.conf").read_text()
    assert "ip_hash;" in config  # long-polling sessions stick to one process
    for name in apps:
        assert f"server {name}:8080" in config
    socket_block = config[config.index("location /socket.io/") :]
    assert "proxy_set_header Upgrade $http_upgrade;" in socket_block
    assert "proxy_set_header Connection $connection_upgrade;" in socket_block
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", socket_block).group(1))
    assert read_timeout > 25 + 20  # engine.io's ping interval + ping timeout
