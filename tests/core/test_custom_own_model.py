"""examples/own_model.py: one's own model, data and Adam, checked headless with --check."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "own_model.py"


@pytest.fixture(scope="module")
def result():
    return subprocess.run([sys.executable, str(EXAMPLE), "--check"], capture_output=True,
                          text=True, timeout=300)


def test_own_model_check_exits_zero(result):
    assert result.returncode == 0


def test_own_model_check_prints_a_line_per_step(result):
    steps = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert len(steps) == 20


def test_own_model_check_summary_passes(result):
    assert result.stdout.splitlines()[-1].startswith("PASS: 20 of 20 steps")


def test_own_model_check_writes_nothing_to_stderr(result):
    assert result.stderr == ""
