"""Smoke tests of the benchmarks: each runs at a tiny size and returns its figures.

No test here asserts a time: the figures are measurements, and docs/benchmarks.md
reports them.
"""

from __future__ import annotations

import re

import pytest

from benchmarks import models
from benchmarks.__main__ import build_parser, main
from benchmarks.figures import Figure, Sample, Target
from benchmarks.history import history
from benchmarks.keypress import keypress_latency
from benchmarks.output import last_logged_step, single_steps
from benchmarks.overhead import RuleClock, check_overhead
from benchmarks.page import BEGIN, END, results_block, write_results
from benchmarks.startup import READY, startup
from optimstep.core import Stepper

TINY = models.large_mlp(width=4, samples=2)


def test_check_overhead_pairs_steps():
    figure = check_overhead(models.default(), steps=2, warmup=1)
    assert len(figure.measured.values) == 2
    assert len(figure.baseline.values) == 2


def test_check_overhead_notes_the_reference_share():
    figure = check_overhead(TINY, steps=2, warmup=1)
    share = [note for note in figure.notes if note.startswith("medians per step")]
    assert len(share) == 1
    assert "the reference rule" in share[0]


def test_rule_clock_counts_the_rule_runs():
    stepper = Stepper.from_scenario(models.default().scenario, history_mib=0)
    clock = RuleClock(stepper)
    stepper.step()
    assert clock.take() > 0
    assert clock.take() == 0


def test_check_overhead_notes_no_failure():
    figure = check_overhead(TINY, steps=2, warmup=1)
    assert not any("failed" in note for note in figure.notes)


def test_keypress_latency_one_press():
    figure = keypress_latency(models.default(), presses=1, warmup=0)
    assert len(figure.measured.values) == 1


def test_history_within_budget():
    memory = history(TINY, steps=4, repeat=1)[0]
    assert memory.met


def test_history_figures_per_rewind():
    rewinds = history(TINY, steps=4, repeat=1)[3:]
    assert [len(figure.measured.values) for figure in rewinds] == [1, 1]


def test_sample_describes_median_and_range():
    assert Sample((0.001, 0.003, 0.002)).describe() == "2 (1–3) ms"


def test_target_on_ratio():
    figure = Figure("g", "n", Sample((3.0,)), Sample((2.0,)), "b", Target(1.2))
    assert figure.met is False


def test_last_logged_step_reads_styled_lines():
    output = b"\x1b[0m   9  \x1b[1;32mPASS\x1b[0m x\r\n  10  \x1b[0m\x1b[1mFAIL\x1b[0m"
    assert last_logged_step(output) == 10


def test_last_logged_step_reads_repainted_numbers():
    output = (b"\x1b[20;1H\x1b[38;5;253;48;5;234m  11\x1b[0m\r\n"
              b"\x1b[21;1H\x1b[38;5;253;48;5;234m  12\x1b[0m\x1b[1;1H")
    assert last_logged_step(output) == 12


def test_last_logged_step_skips_other_rows():
    output = b"\x1b[1;1H\x1b[1m optimstep  step 30\x1b[0m\x1b[4;2Hweight  0.5\r\n"
    assert last_logged_step(output) is None


def test_write_results_replaces_between_markers(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text(f"intro\n{BEGIN}\nold\n{END}\nafter\n", encoding="utf-8")
    figure = Figure("g", "n", Sample((0.5,), "s"))
    write_results(page, results_block([figure], "python -m benchmarks", 1, (0.0, 0.0, 0.0), 1.0))
    text = page.read_text(encoding="utf-8")
    assert "old" not in text
    assert "| g | n | 0.5 s |" in text
    assert text.startswith("intro\n")
    assert text.endswith("after\n")


def test_write_results_needs_markers(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("hand-written text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        write_results(page, "block")


def test_only_rejects_unknown_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--only", "speed"])
    assert exit_info.value.code == 2
    assert "invalid benchmark(s): speed" in capsys.readouterr().err


def test_write_needs_existing_page(tmp_path, capsys):
    assert main(["--only", "check", "--quick", "--write", str(tmp_path / "missing.md")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_single_steps_in_terminal():
    figure = single_steps(80, 24, steps=2, threads=1)
    assert len(figure.measured.values) == 1
    assert not any("lost" in note for note in figure.notes)


@pytest.mark.slow
def test_startup_times_both():
    first_frame, ready = startup(repeat=1, threads=1)
    assert (len(first_frame.measured.values), len(first_frame.baseline.values)) == (1, 1)
    assert (len(ready.measured.values), len(ready.baseline.values)) == (1, 1)


@pytest.mark.slow
def test_startup_ready_after_first_frame():
    first_frame, ready = startup(repeat=1, threads=1)
    assert ready.measured.median >= first_frame.measured.median
    assert ready.baseline is first_frame.baseline


def test_ready_text_not_in_building_frame():
    # The first frame shows "building Adam…" in the log; the ready text replaces it.
    assert re.search(READY, b"step 0: initial values; press n to step")
    assert not re.search(READY, b"step 0: building Adam\xe2\x80\xa6; steps requested")
