"""`optimstep dist-check`: exit statuses, the Rich summary, JSON lines and usage errors."""

import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from optimstep.core.distributed.faults import FAULT_ENV, Fault
from optimstep.tui import check
from optimstep.tui.cli import main
from optimstep.tui.distributed import add_distributed_arguments, build_run


def run(argv, capsys):
    """Run `optimstep` in-process; return (exit status, stdout, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def ddp_report():
    """`dist-check --steps 2` on two DDP ranks, as a person reads it."""
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setenv("NO_COLOR", "1")
        status = main(["dist-check", "--steps", "2"])
    return status, output.getvalue()


@pytest.mark.slow
def test_passing_run_exits_0(ddp_report):
    status, _ = ddp_report
    assert status == 0


@pytest.mark.slow
def test_report_has_a_line_per_step(ddp_report):
    _, out = ddp_report
    assert [line.split("  ")[0] for line in out.splitlines() if line.startswith("Step")] == \
        ["Step 1", "Step 2"]


@pytest.mark.slow
def test_report_names_strategy_and_backend(ddp_report):
    _, out = ddp_report
    assert "DistributedDataParallel · 2 ranks · gloo · linear" in out


@pytest.mark.slow
def test_report_ends_with_verdict(ddp_report):
    _, out = ddp_report
    assert out.splitlines()[-1].startswith("PASS  2 steps on 2 ranks")


@pytest.mark.slow
def test_json_lines_of_zero_with_consolidation(capsys):
    status, out, err = run(["dist-check", "--strategy", "zero", "--dist-model", "mlp",
                            "--steps", "2", "--consolidate", "--json"], capsys)
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 0
    assert [line["kind"] for line in lines] == ["distributed_step", "distributed_step",
                                                "consolidated"]
    assert [rank["rank"] for rank in lines[0]["ranks"]] == [0, 1]
    assert all(line["passed"] for line in lines)
    assert "PASS" in err


@pytest.mark.slow
def test_crashing_rank_exits_3_with_traceback(capsys, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, Fault("raise", rank=1, step=2).spec())
    status, out, _ = run(["dist-check", "--steps", "3"], capsys)
    assert status == 3
    assert "rank 1 failed at step 2 in forward" in out
    assert "RuntimeError: planted fault" in out


@pytest.mark.parametrize("argv, message", [
    (["--ranks", "0"], "argument --ranks: invalid value '0'"),
    (["--step-timeout", "0"], "argument --step-timeout: invalid value '0'"),
    (["--strategy", "pipeline"], "argument --strategy: invalid choice: 'pipeline'"),
    (["--ranks", "3"], "invalid --ranks: 3 (the scenario's batches of 2 samples"),
    (["--consolidate"], "--consolidate needs --strategy zero, not ddp"),
    (["--preset", "nope"], "invalid --preset: 'nope'"),
])
def test_invalid_usage_exits_2(argv, message, capsys):
    status, _, err = run(["dist-check", *argv], capsys)
    assert status == 2
    assert message in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_nccl_without_devices_exits_2(capsys):
    status, _, err = run(["dist-check", "--backend", "nccl"], capsys)
    assert status == 2
    assert "invalid --backend: 'nccl'" in err


def check_like_args(**options) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_distributed_arguments(parser)
    parser.add_argument("--preset", default="linear")
    for name in ("reference", "dtype", "rtol", "atol", "junit", "csv", "output"):
        parser.add_argument(f"--{name}", default=None)
    args = parser.parse_args(["--ranks", "2"])
    return argparse.Namespace(**{**vars(args), **options})


def test_check_defaults_to_one_rank():
    parser = argparse.ArgumentParser()
    add_distributed_arguments(parser)
    assert parser.parse_args([]).ranks == 1


@pytest.mark.parametrize("option", ["junit", "csv", "output"])
def test_single_process_outputs_are_rejected(option):
    with pytest.raises(ValueError, match=f"--{option} applies to a single-process check"):
        build_run(check_like_args(**{option: "out.file"}))


def test_check_parser_takes_distributed_options():
    # `check` hands --ranks above 1 to the distributed handler.
    commands = argparse.ArgumentParser().add_subparsers()
    parser = check.add_parser(commands)
    args = parser.parse_args(["--ranks", "2", "--strategy", "zero", "--json", "--steps", "3"])
    run = build_run(args)
    assert (run.world_size, run.strategy) == (2, "zero")


def test_options_build_the_run():
    run = build_run(check_like_args(strategy="fsdp", dist_model="mlp"))
    assert (run.strategy, run.world_size, run.scenario.model) == ("fsdp", 2, "mlp")


def rank_children(pid: int) -> list[int]:
    """Return the rank processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"optimstep.core.distributed.worker" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_ctrl_c_ends_every_rank():
    # Rank 1 hangs in step 2 and the deadline is far away, so Ctrl-C arrives while the
    # launcher waits for a step and the other rank waits in a collective.
    env = dict(os.environ, PYTHONUNBUFFERED="1", NO_COLOR="1",
               **{FAULT_ENV: Fault("hang", rank=1, step=2).spec()})
    launcher = subprocess.Popen([sys.executable, "-m", "optimstep.tui", "dist-check", "--steps",
                                 "3", "--step-timeout", "600"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        first = launcher.stdout.readline()
        ranks = rank_children(launcher.pid)
        launcher.send_signal(signal.SIGINT)
        status = launcher.wait(timeout=60)
    finally:
        launcher.kill()
        launcher.wait()
    assert first.startswith("Step 1")
    assert len(ranks) == 2
    assert status == 130
    assert [pid for pid in ranks if Path(f"/proc/{pid}").exists()] == []


def test_own_optimizer_class_is_rejected_on_ranks(capsys):
    status = main(["check", "--ranks", "2", "--optimizer-class", "torch.optim:Adam"])
    err = capsys.readouterr().err
    assert status == 2
    assert "'torch.optim:Adam'" in err
    assert err.count("\n") == 1
