"""Settings from a file: what make run writes, read by manage.py for another shell's commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from marketingai.envfile import ENV_FILE_VARIABLE, load_env_file, parse_env_lines

ROOT = Path(__file__).resolve().parents[2]


def test_lines_are_names_and_values_without_comments_quotes_or_export():
    text = "# a comment\n\nexport A=1\nB = \"two words\"\nC='x=y'\nD=\n"
    assert parse_env_lines(text) == {"A": "1", "B": "two words", "C": "x=y", "D": ""}


@pytest.mark.parametrize("line", ["just words", "=value", "1NAME=x", "A-B=c"])
def test_a_line_that_is_not_name_equals_value_is_refused_with_its_number(line):
    with pytest.raises(ValueError, match=r"line 2: expected NAME=value"):
        parse_env_lines(f"OK=1\n{line}\n")


def test_the_environment_wins_over_the_file(tmp_path):
    env_file = tmp_path / "demo.env"
    env_file.write_text("MARKETINGAI_DEMO=1\nMARKETINGAI_ADMIN_PORT=8000\n")
    environ = {ENV_FILE_VARIABLE: str(env_file), "MARKETINGAI_ADMIN_PORT": "9000"}

    assert load_env_file(environ) == env_file
    assert environ["MARKETINGAI_DEMO"] == "1" and environ["MARKETINGAI_ADMIN_PORT"] == "9000"


def test_an_empty_setting_reads_nothing_and_a_missing_named_file_is_an_error(tmp_path):
    environ = {ENV_FILE_VARIABLE: ""}
    assert load_env_file(environ) is None and environ == {ENV_FILE_VARIABLE: ""}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_env_file({ENV_FILE_VARIABLE: str(tmp_path / "missing.env")})


def test_manage_py_reads_the_file_before_the_settings(tmp_path):
    env_file = tmp_path / "demo.env"
    env_file.write_text("MARKETINGAI_DEMO=1\nMARKETINGAI_DEMO_PLATFORM_TOKEN=from-the-file\n")
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MARKETINGAI_") and key != "DATABASE_URL"
    }
    environ[ENV_FILE_VARIABLE] = str(env_file)
    script = (
        "from django.conf import settings; import os; "
        "print(settings.MARKETINGAI_DEMO, 'MARKETINGAI_DEMO_PLATFORM_TOKEN' in settings.MARKETINGAI_SECRETS, "
        "os.environ['MARKETINGAI_DEMO_PLATFORM_TOKEN'])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["True", "True", "from-the-file"]


def test_manage_py_names_a_bad_line_of_the_file_without_a_traceback(tmp_path):
    env_file = tmp_path / "broken.env"
    env_file.write_text("MARKETINGAI_DEMO=1\nnot a setting\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MARKETINGAI_")}
    environ[ENV_FILE_VARIABLE] = str(env_file)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "line 2: expected NAME=value" in result.stderr
    assert "Traceback" not in result.stderr
