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
