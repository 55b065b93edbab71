"""`optimstep --ranks N`: options the distributed app rejects fail before any rank starts."""

import pytest

from optimstep.tui.cli import build_parser, main


def run(argv, capsys):
    """Run `optimstep` in-process; return (exit status, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exit:
        status = exit.code
    return status, capsys.readouterr().err


def test_run_takes_the_distributed_options():
    args = build_parser().parse_args(["run", "--ranks", "2", "--strategy", "zero"])
    assert (args.ranks, args.strategy) == (2, "zero")


def test_app_defaults_to_one_rank():
    assert build_parser().parse_args(["run"]).ranks == 1


INVALID = [
    (["--ranks", "3"], "optimstep run: error: invalid --ranks: 3 (the scenario's batches"),
    (["--ranks", "2", "--consolidate"], "optimstep run: error: --consolidate applies to check"),
    (["--ranks", "2", "--step-timeout", "0"],
     "optimstep run: error: argument --step-timeout: invalid value '0'"),
    (["run", "--ranks", "2", "--strategy", "bogus"],
     "optimstep run: error: argument --strategy: invalid choice: 'bogus'"),
]
"""Options the distributed app rejects, with the start of the one line on stderr."""


@pytest.mark.parametrize("argv", [argv for argv, _ in INVALID])
def test_invalid_options_exit_2(argv, capsys):
    status, _ = run(argv, capsys)
    assert status == 2


@pytest.mark.parametrize("argv, message", INVALID)
def test_invalid_options_print_one_line(argv, message, capsys):
    _, err = run(argv, capsys)
    assert (err.count("\n"), err.startswith(message)) == (1, True)
