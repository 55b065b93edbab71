"""`optimstep presets`: one line per built-in scenario, with its description."""

import pytest

from optimstep.core import PRESETS
from optimstep.tui.cli import main


def presets_output(capsys):
    status = main(["presets"])
    return status, capsys.readouterr().out.splitlines()


def test_presets_exits_zero(capsys):
    assert presets_output(capsys)[0] == 0


def test_presets_one_line_each(capsys):
    _, lines = presets_output(capsys)
    assert [line.split()[0] for line in lines] == list(PRESETS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_line_has_description(capsys, name):
    _, lines = presets_output(capsys)
    line = next(line for line in lines if line.split()[0] == name)
    assert PRESETS[name].description in line


def test_presets_marks_default(capsys):
    _, lines = presets_output(capsys)
    assert [line.split()[0] for line in lines if line.endswith("(default)")] == ["linear"]
