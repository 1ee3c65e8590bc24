"""`contact-center staffing`: the agents needed for a service level, as a table or as JSON."""

import json

import pytest
from click.testing import CliRunner

from contact_center.cli import main

CLASSIC = ["staffing", "--arrivals-per-hour", "360", "--aht", "240"]
TARGET = ["--target-service-level", "0.8", "--target-seconds", "20"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_prints_the_required_agents_and_a_table_around_them():
    result = run(*CLASSIC, *TARGET)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Required agents: 29" in lines
    rows = [line.split() for line in lines if line.strip()[:1] in {">", *"0123456789"}]
    agents = [int(row[1] if row[0] == ">" else row[0]) for row in rows]
    assert agents == [27, 28, 29, 30, 31]
    assert next(line for line in lines if line.startswith(">")).split()[1:3] == ["29", "84.0%"]


def test_json_output_is_one_object_with_required_agents_and_rows():
    result = run(*CLASSIC, *TARGET, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["required_agents"] == 29 and data["model"] == "erlang_c"
    assert [row["agents"] for row in data["rows"]] == [27, 28, 29, 30, 31]
    assert data["rows"][2]["service_level"] == pytest.approx(0.8403, abs=1e-4)
    assert data["rows"][2]["abandon_rate"] is None


def test_patience_switches_to_erlang_a_and_reports_abandonment():
    result = run(*CLASSIC, *TARGET, "--patience", "120", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "erlang_a" and data["required_agents"] == 26
    assert all(0 < row["abandon_rate"] < 1 for row in data["rows"])
    table = run(*CLASSIC, *TARGET, "--patience", "120")
    assert "Required agents: 26" in table.stdout.splitlines() and "abandoned" in table.stdout


def test_defaults_are_80_percent_in_20_seconds():
    assert json.loads(run(*CLASSIC, "--json").stdout)["required_agents"] == 29


def test_overloaded_rows_have_no_answer_time_in_json():
    data = json.loads(run(*CLASSIC, "--target-service-level", "0.2", "--json").stdout)
    assert data["required_agents"] == 25 and data["rows"][0]["asa_seconds"] is None


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--arrivals-per-hour", "-1"),
        ("--arrivals-per-hour", "nan"),
        ("--aht", "0"),
        ("--aht", "inf"),
        ("--target-service-level", "1"),
        ("--target-service-level", "0"),
        ("--target-seconds", "-5"),
        ("--patience", "0"),
        ("--max-occupancy", "1.2"),
    ],
)
def test_invalid_values_give_a_usage_error_not_a_traceback(option, value):
    args = {"--arrivals-per-hour": "360", "--aht": "240", option: value}
    result = run("staffing", *[part for pair in args.items() for part in pair])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_missing_required_options_are_reported():
    result = run("staffing", "--aht", "240")
    assert result.exit_code == 2 and "--arrivals-per-hour" in result.output
