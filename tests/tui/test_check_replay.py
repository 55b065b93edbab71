"""`optimstep replay`: reading the trace that `check --json` wrote, and its errors."""

import contextlib
import io

import pytest

from optimstep.tui.cli import main
from optimstep.tui.replay import open_source


@pytest.fixture(scope="module")
def trace(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "run.jsonl"
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "--steps", "4", "--json", "--output", str(path)])
    return path


def run(argv, capsys):
    status = main(argv)
    return status, capsys.readouterr().err


def test_open_source_name(trace):
    assert open_source(str(trace)).name == "run.jsonl"


def test_open_source_steps(trace):
    assert open_source(str(trace)).total_steps == 4


def test_open_source_panels_from_trace(trace):
    assert open_source(str(trace)).rule.panels[1] == ("Bias-corrected", ("m_hat", "v_hat"))


def test_truncated_trace_warns(trace, tmp_path, capsys):
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(trace.read_bytes()[:-100])
    open_source(str(cut))
    assert capsys.readouterr().err.strip() == (
        f"optimstep replay: warning: {cut} ends with an incomplete line; replaying its 3 "
        f"complete steps")


def test_missing_trace_exit_status(tmp_path, capsys):
    assert run(["replay", str(tmp_path / "absent.jsonl")], capsys)[0] == 2


def test_bad_trace_is_one_line(trace, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    lines = trace.read_text().splitlines(keepends=True)
    bad.write_text(lines[0] + "not json\n" + "".join(lines[2:]))
    status, err = run(["replay", str(bad)], capsys)
    assert err.strip() == (f"optimstep replay: error: {bad}:2: invalid JSON (Expecting value "
                           f"at column 1)")


def test_not_a_trace_exit_status(tmp_path, capsys):
    other = tmp_path / "notes.txt"
    other.write_text("hello\n")
    assert run(["replay", str(other)], capsys)[0] == 2


async def test_truncated_trace_warns_inside_the_app(trace, tmp_path, capsys):
    from optimstep.tui.app import OptimstepApp

    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(trace.read_bytes()[:-100])
    warnings = []
    app = OptimstepApp(open_source(str(cut), warnings))
    app.startup_warnings += warnings
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert [(n.message, n.severity) for n in app._notifications] == [
            (f"{cut} ends with an incomplete line; replaying its 3 complete steps", "warning")]
