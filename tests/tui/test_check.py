"""`optimstep check`: exit codes, the report, JSON lines, JUnit, CSV and output files."""

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import signal
import threading
import time
import xml.etree.ElementTree as ET

import pytest
import torch

from optimstep.core import Stepper, preset
from optimstep.core.export import CSV_COLUMNS
from optimstep.core.rules.adam import Adam
from optimstep.core.trace import read_trace
from optimstep.tui.check import run_check
from optimstep.tui.deadline import DeadlineStepper
from optimstep.tui.cli import build_parser, main


class NoBiasCorrection(Adam):
    """Adam without the first moment's bias correction, so its checks fail."""

    def step(self, param, grad, state, group):
        output = super().step(param, grad, state, group)
        beta1 = group["betas"][0]
        # The right step size is lr / (1 - beta1^t); this rule steps with lr alone.
        wrong = param + (output.param - param) * (1 - beta1 ** output.state["step"].item())
        return type(output)(output.terms, output.state, wrong, wrong - param)


def run(argv, capsys):
    """Run `optimstep` in-process; return (exit status, stdout, stderr)."""
    try:
        status = main(argv)
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def run_broken(argv, steps=101):
    """Run `check` with `argv` on the default scenario and a wrong reference rule."""
    built = preset().build()
    stepper = Stepper(built.model, built.optimizer, built.loss_fn, built.batches,
                      rule=NoBiasCorrection(), name="broken")
    return run_check(stepper, build_parser().parse_args(["check", *argv]), steps)


@pytest.fixture(scope="module")
def default_json():
    """Exit status and stdout of `optimstep check --steps 101 --json`."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["check", "--steps", "101", "--json"])
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


# Default scenario's known values on torch 2.13.0, CPU, float32: loss, gradients, m and v
# after the step, the update (after - before) and the parameters after the step. The
# number of decimals each value was published with sets the tolerance.
KNOWN = {
    1: dict(loss=2.1250, grad_w=-4.5000, grad_b=-2.5000, m_w=-0.4500, v_w=0.2025,
            m_b=-0.2500, v_b=0.0625, dw=0.1000, db=0.1000, w=-0.400000, b=1.100000),
    2: dict(loss=1.4900, grad_w=-3.7000, grad_b=-2.0000, m_w=-0.7750, v_w=0.3374,
            m_b=-0.4250, v_b=0.1019, dw=0.0991, db=0.0989, w=-0.300935, b=1.198862),
    3: dict(loss=0.9894, grad_w=-2.9081, grad_b=-1.5051, m_w=-0.9883, v_w=0.4186,
            m_b=-0.5330, v_b=0.1235, dw=0.0971, db=0.0964, w=-0.203790, b=1.295311),
    101: dict(loss=0.0023, grad_w=0.0012, grad_b=0.0311, m_w=-0.0277, v_w=0.2849,
              m_b=0.0301, v_b=0.1097, dw=0.0041, db=-0.0073, w=0.913222, b=0.144685),
}

# Where each column of the table is in a JSON line, and half its last published digit.
PATHS = {
    "loss": (("loss",), 5e-5),
    "grad_w": (("params", "weight", "grad"), 5e-5),
    "grad_b": (("params", "bias", "grad"), 5e-5),
    "m_w": (("params", "weight", "terms", "m"), 5e-5),
    "v_w": (("params", "weight", "terms", "v"), 5e-5),
    "m_b": (("params", "bias", "terms", "m"), 5e-5),
    "v_b": (("params", "bias", "terms", "v"), 5e-5),
    "dw": (("params", "weight", "actual_update"), 5e-5),
    "db": (("params", "bias", "actual_update"), 5e-5),
    "w": (("params", "weight", "after"), 5e-7),
    "b": (("params", "bias", "after"), 5e-7),
}


def lookup(obj, path):
    for key in path:
        obj = obj[key]
    while isinstance(obj, list):
        (obj,) = obj
    return obj


@pytest.mark.parametrize("column", PATHS)
@pytest.mark.parametrize("step", KNOWN)
def test_json_reproduces_known_values(default_json, step, column):
    path, tolerance = PATHS[column]
    line = default_json[1][step - 1]
    assert lookup(line, path) == pytest.approx(KNOWN[step][column], abs=tolerance)


def test_json_state_matches_terms(default_json):
    line = default_json[1][100]["params"]["weight"]
    assert line["state"]["exp_avg"] == line["terms"]["m"]


def test_json_default_run_exit_status(default_json):
    assert default_json[0] == 0


def test_json_default_run_one_line_per_step(default_json):
    assert [line["step"] for line in default_json[1]] == list(range(1, 102))


def test_json_default_run_every_step_passed(default_json):
    assert all(line["passed"] is True for line in default_json[1])


def test_json_top_level_keys(default_json):
    assert {"step", "loss", "passed", "params", "checks"} <= default_json[1][0].keys()


@pytest.mark.parametrize("key", ["before", "grad", "after", "computed_update",
                                 "actual_update", "state", "terms"])
def test_json_param_keys(default_json, key):
    assert key in default_json[1][0]["params"]["weight"]


def test_json_adam_terms(default_json):
    terms = default_json[1][0]["params"]["weight"]["terms"]
    assert {"m", "v", "m_hat", "v_hat"} <= terms.keys()


def test_json_state_keys_are_torch_keys(default_json):
    state = default_json[1][0]["params"]["bias"]["state"]
    assert list(state) == ["step", "exp_avg", "exp_avg_sq"]


def test_json_check_keys(default_json):
    check = default_json[1][0]["checks"][0]
    assert {"name", "passed", "max_abs_error", "max_rel_error", "max_ulp"} <= check.keys()


def test_json_tensors_are_nested_lists(default_json):
    assert default_json[1][0]["params"]["weight"]["before"] == [[-0.5]]


# Round trip: the JSON lines read back give the live run's records.


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    path = tmp_path_factory.mktemp("trace") / "run.jsonl"
    with contextlib.redirect_stdout(io.StringIO()):
        main(["check", "--json", "--output", str(path)])
    live = Stepper.from_scenario(preset()).run(101)
    return live, read_trace(path).records


def same_tensor(a, b):
    return (a is None and b is None) or (
        a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a, b)))


@pytest.mark.parametrize("step", [1, 50, 101])
def test_round_trip_loss(round_trip, step):
    live, read = round_trip
    assert read[step - 1].loss == live[step - 1].loss


@pytest.mark.parametrize("step", [1, 50, 101])
def test_round_trip_checks(round_trip, step):
    live, read = round_trip
    assert read[step - 1].checks == live[step - 1].checks


@pytest.mark.parametrize("field", ["before", "grad", "after", "computed_update"])
@pytest.mark.parametrize("step", [1, 50, 101])
def test_round_trip_values(round_trip, step, field):
    live, read = round_trip
    pairs = zip(live[step - 1].params, read[step - 1].params, strict=True)
    assert all(same_tensor(getattr(a, field), getattr(b, field)) for a, b in pairs)


@pytest.mark.parametrize("step", [1, 50, 101])
def test_round_trip_state(round_trip, step):
    live, read = round_trip
    pairs = zip(live[step - 1].params, read[step - 1].params, strict=True)
    assert all(same_tensor(a.state[k], b.state[k]) for a, b in pairs for k in a.state)


@pytest.mark.parametrize("step", [1, 50, 101])
def test_round_trip_term_values(round_trip, step):
    live, read = round_trip
    pairs = zip(live[step - 1].params, read[step - 1].params, strict=True)
    assert all(same_tensor(x.value, y.value)
               for a, b in pairs for x, y in zip(a.terms, b.terms, strict=True))


@pytest.mark.parametrize("step", [1, 50, 101])
def test_round_trip_term_formulas(round_trip, step):
    live, read = round_trip
    assert [(x.name, x.symbol, x.formula) for a in live[step - 1].params for x in a.terms] == \
        [(y.name, y.symbol, y.formula) for b in read[step - 1].params for y in b.terms]


# The report on stdout.


def test_report_names_steps_and_verdicts(capsys):
    status, out, _ = run(["check", "--steps", "2"], capsys)
    assert "Step 2  loss 1.49  PASS" in out


def test_report_shows_adam_terms(capsys):
    _, out, _ = run(["check", "--steps", "1"], capsys)
    assert all(symbol in out for symbol in ("m̂", "v̂", "computed update", "actual update"))


def test_report_summary_last(capsys):
    _, out, _ = run(["check", "--steps", "3"], capsys)
    assert out.strip().splitlines()[-2] == "PASS  3 steps, 48 checks, 0 failed"


def test_report_has_no_ansi_off_terminal(capsys):
    _, out, _ = run(["check", "--steps", "1"], capsys)
    assert "\x1b[" not in out


def test_report_colour_when_forced(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, _ = run(["check", "--steps", "1"], capsys)
    assert "\x1b[" in out


def test_report_no_color_wins_over_terminal(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(["check", "--steps", "1"], capsys)
    assert "\x1b[" not in out


def test_quiet_prints_summary_only(capsys):
    _, out, _ = run(["check", "--steps", "3", "--quiet"], capsys)
    assert out.splitlines()[0] == "PASS  3 steps, 48 checks, 0 failed"


def test_json_on_stdout_moves_summary_to_stderr(capsys):
    _, out, err = run(["check", "--steps", "2", "--json"], capsys)
    assert err.startswith("PASS  2 steps")


def test_large_parameter_is_summarised(capsys):
    torch.manual_seed(0)
    model = torch.nn.Linear(10, 10)
    optimizer = torch.optim.Adam(model.parameters())
    batches = [(torch.randn(4, 10), torch.randn(4, 10))]
    stepper = Stepper(model, optimizer, torch.nn.MSELoss(), batches)
    run_check(stepper, build_parser().parse_args(["check"]), 1)
    out = capsys.readouterr().out
    assert "shape [10, 10] · norm" in out


# Exit status 2: invalid usage, one line on stderr.

USAGE_ERRORS = {
    "steps zero": ["check", "--steps", "0"],
    "steps text": ["check", "--steps", "abc"],
    "unknown preset": ["check", "--preset", "nope"],
    "negative rtol": ["check", "--rtol", "-1"],
    "output without json": ["check", "--output", "x.jsonl"],
    "unknown flag": ["check", "--frobnicate"],
}


@pytest.mark.parametrize("argv", USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_usage_error_exit_status(argv, capsys):
    assert run(argv, capsys)[0] == 2


@pytest.mark.parametrize("argv", USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_usage_error_is_one_line(argv, capsys):
    _, _, err = run(argv, capsys)
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", USAGE_ERRORS.values(), ids=USAGE_ERRORS)
def test_usage_error_prints_nothing_on_stdout(argv, capsys):
    assert run(argv, capsys)[1] == ""


def test_usage_error_names_value(capsys):
    _, _, err = run(["check", "--steps", "abc"], capsys)
    assert "'abc' (expected an integer >= 1)" in err


def test_same_file_twice(tmp_path, capsys):
    path = str(tmp_path / "out")
    _, _, err = run(["check", "--junit", path, "--csv", path], capsys)
    assert err.strip() == f"optimstep check: error: --junit and --csv name the same file {path!r}"


# A failing run: a wrong reference rule, exit status 1, JUnit and CSV name the failure.


def test_failing_run_exit_status(capsys):
    assert run_broken(["--quiet"], steps=3) == 1


def test_failing_run_summary(capsys):
    run_broken(["--quiet"], steps=3)
    assert "FAIL weight.param (single) on 3 of 3 steps, first at step 1" in \
        " ".join(capsys.readouterr().out.split())


@pytest.fixture
def broken_junit(tmp_path, capsys):
    path = tmp_path / "checks.xml"
    run_broken(["--quiet", "--junit", str(path)])
    return path


def test_junit_parses(broken_junit):
    assert ET.parse(broken_junit).getroot().tag == "testsuites"


def test_junit_one_case_per_check_and_mode(broken_junit):
    assert len(ET.parse(broken_junit).findall(".//testcase")) == 16


def test_junit_counts_failing_cases(broken_junit):
    assert ET.parse(broken_junit).find("testsuite").get("failures") == "4"


def test_junit_names_failing_check_and_step(broken_junit):
    case = ET.parse(broken_junit).find(".//testcase[@name='weight.param (single)']")
    assert case.find("failure").get("message").startswith("step 1: max abs error 0.09")


def test_junit_passing_case_has_no_failure(broken_junit):
    case = ET.parse(broken_junit).find(".//testcase[@name='weight.exp_avg (carried)']")
    assert case.find("failure") is None


def test_junit_accepted_by_junitparser(broken_junit):
    junitparser = pytest.importorskip("junitparser")
    suites = junitparser.JUnitXml.fromfile(str(broken_junit))
    failed = [case.name for suite in suites for case in suite if not case.is_passed]
    assert failed == ["weight.param (single)", "bias.param (single)",
                      "weight.param (carried)", "bias.param (carried)"]


@pytest.fixture
def broken_csv(tmp_path, capsys):
    path = tmp_path / "steps.csv"
    run_broken(["--quiet", "--csv", str(path)], steps=5)
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def test_csv_columns(broken_csv):
    assert tuple(broken_csv[0]) == CSV_COLUMNS


def test_csv_row_per_step_and_parameter(broken_csv):
    assert [(row["step"], row["param"]) for row in broken_csv[1]][:3] == \
        [("1", "weight"), ("1", "bias"), ("2", "weight")]


def test_csv_row_count(broken_csv):
    assert len(broken_csv[1]) == 10


def test_csv_failed_checks(broken_csv):
    assert broken_csv[1][0]["failed_checks"] == "weight.param/single;weight.param/carried"


def test_until_fail_stops_at_first_failure(tmp_path, capsys):
    path = tmp_path / "run.jsonl"
    run_broken(["--until-fail", "--json", "--output", str(path)])
    assert len(path.read_text().splitlines()) == 1


def test_until_fail_prints_step_in_full(capsys):
    run_broken(["--until-fail"])
    out = capsys.readouterr().out
    assert "tolerance: rtol 1e-05, atol 1e-08" in out


def test_until_fail_exit_status(capsys):
    assert run_broken(["--until-fail", "--quiet"]) == 1


def test_until_fail_passing_run_takes_every_step(capsys):
    _, out, _ = run(["check", "--steps", "4", "--until-fail", "--quiet"], capsys)
    assert out.startswith("PASS  4 steps")


# Output files: never overwritten without --force, never left half-written.


def test_existing_file_without_force(tmp_path, capsys):
    path = tmp_path / "run.jsonl"
    path.write_text("keep me")
    status, _, err = run(["check", "--steps", "1", "--json", "-o", str(path)], capsys)
    assert status == 2
    assert err.strip() == f"optimstep check: error: {path} exists (pass --force to overwrite it)"


def test_existing_file_kept_without_force(tmp_path, capsys):
    path = tmp_path / "run.csv"
    path.write_text("keep me")
    run(["check", "--steps", "1", "--csv", str(path)], capsys)
    assert path.read_text() == "keep me"


def test_existing_file_with_force(tmp_path, capsys):
    path = tmp_path / "run.csv"
    path.write_text("old")
    run(["check", "--steps", "1", "--quiet", "--csv", str(path), "--force"], capsys)
    assert path.read_text().startswith("step,loss,")


@pytest.mark.parametrize("option, name, what", [
    ("--junit", "custom_optimizer.toml", "the scenario file"),
    ("--csv", "guarded_adam.py", "the optimizer's module"),
    ("--output", "data/points.csv", "the data file"),
])
def test_output_onto_an_input_rejected_even_with_force(tmp_path, capsys, monkeypatch, option,
                                                       name, what):
    examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
    for source in ("custom_optimizer.toml", "custom_adam.py", "csv_param_groups.toml"):
        (tmp_path / source).write_bytes(open(os.path.join(examples, source), "rb").read())
    # A module name no other test imports, so that this run imports it from tmp_path.
    (tmp_path / "guarded_adam.py").write_bytes((tmp_path / "custom_adam.py").read_bytes())
    toml = tmp_path / "custom_optimizer.toml"
    toml.write_text(toml.read_text().replace("custom_adam:", "guarded_adam:"))
    monkeypatch.delitem(sys.modules, "guarded_adam", raising=False)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "points.csv").write_bytes(
        open(os.path.join(examples, "data", "points.csv"), "rb").read())
    scenario = "csv_param_groups.toml" if what == "the data file" else "custom_optimizer.toml"
    target = tmp_path / name
    before = target.read_bytes()
    extra = ["--json"] if option == "--output" else []
    status, _, err = run(["check", "--scenario", str(tmp_path / scenario), "--steps", "1",
                          *extra, option, str(target), "--force"], capsys)
    assert status == 2
    assert err.strip() == (f"optimstep check: error: invalid {option} {str(target)!r}: it is "
                           f"{what} of this run (write the output to another file)")
    assert target.read_bytes() == before


@pytest.mark.parametrize("argv, message", [
    (["--csv", ""], "invalid --csv '': expected a file path"),
    (["--junit", "  "], "invalid --junit '  ': expected a file path"),
    (["--json", "-o", "-"], "invalid --output '-': expected a file path (--json without "
                            "--output writes to stdout)"),
])
def test_output_path_not_a_file_name(capsys, argv, message):
    status, out, err = run(["check", "--steps", "1", *argv], capsys)
    assert status == 2
    assert out == ""
    assert err.strip() == f"optimstep check: error: {message}"


@pytest.mark.parametrize("argv, message", [
    (["--strategy", "zero"], "--strategy applies to a distributed run (add --ranks 2 or more)"),
    (["--backend", "gloo", "--consolidate"],
     "--backend, --consolidate apply to a distributed run (add --ranks 2 or more)"),
])
def test_distributed_options_rejected_on_one_process(capsys, argv, message):
    status, out, err = run(["check", "--steps", "1", *argv], capsys)
    assert status == 2
    assert out == ""
    assert err.strip() == f"optimstep check: error: {message}"


def test_unwritable_path(tmp_path, capsys):
    path = tmp_path / "absent" / "run.xml"
    status, _, err = run(["check", "--steps", "1", "--junit", str(path)], capsys)
    assert status == 2
    assert err.strip() == (f"optimstep check: error: cannot write {path}: "
                           f"folder {path.parent} does not exist")


def test_path_through_a_file(tmp_path, capsys):
    (tmp_path / "plain").write_text("")
    status, _, _ = run(["check", "--csv", str(tmp_path / "plain" / "x.csv")], capsys)
    assert status == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs RLIMIT_FSIZE")
def test_full_disk_exits_2_and_leaves_nothing(tmp_path):
    import resource
    import signal

    def limit_file_size():
        # Writes past 20 kB fail with EFBIG, as a full disk fails with ENOSPC.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))

    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "optimstep.tui", "check", "--quiet", "--json",
         "--output", str(out / "run.jsonl"), "--csv", str(out / "run.csv")],
        capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == \
        f"optimstep check: error: cannot write {out / 'run.jsonl'}: File too large"
    assert os.listdir(out) == []


def test_closed_stdout_exits_141(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "optimstep.tui", "check"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 141
    assert err == b""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_stdout_exits_2():
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "optimstep.tui", "check", "--steps", "2"],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == \
        "optimstep check: error: cannot write the output: No space left on device"


class RaisingAdam(torch.optim.Adam):
    """Adam whose third step raises, as a user's optimizer with a bug might."""

    def step(self, closure=None):
        if self.state and next(iter(self.state.values()))["step"].item() >= 2:
            raise RuntimeError("planted failure")
        return super().step(closure)


def run_raising(tmp_path, capsys):
    built = preset().build()
    optimizer = RaisingAdam(built.model.parameters(), lr=0.1, betas=(0.9, 0.99))
    stepper = Stepper(built.model, optimizer, built.loss_fn, built.batches)
    output = tmp_path / "run.jsonl"
    args = build_parser().parse_args(["check", "-q", "--json", "-o", str(output)])
    status = run_check(stepper, args, 5)
    return status, capsys.readouterr(), output


def test_user_code_error_exit_status(tmp_path, capsys):
    status, _, _ = run_raising(tmp_path, capsys)
    assert status == 1


def test_user_code_error_message_names_step_and_error(tmp_path, capsys):
    _, captured, _ = run_raising(tmp_path, capsys)
    assert "optimstep check: error: step 3: step raised RuntimeError: planted failure" in (
        captured.err.splitlines())


def test_user_code_error_keeps_steps_before_it(tmp_path, capsys):
    _, _, output = run_raising(tmp_path, capsys)
    assert [record.step for record in read_trace(output).records] == [1, 2]


def test_user_code_error_is_a_junit_error(tmp_path, capsys):
    built = preset().build()
    optimizer = RaisingAdam(built.model.parameters(), lr=0.1, betas=(0.9, 0.99))
    stepper = Stepper(built.model, optimizer, built.loss_fn, built.batches)
    report = tmp_path / "report.xml"
    run_check(stepper, build_parser().parse_args(["check", "-q", "--junit", str(report)]), 5)
    error = ET.parse(report).getroot().find(".//testcase[@name='run']/error")
    assert "step 3: step raised RuntimeError: planted failure" in error.get("message")


class HangingAdam(torch.optim.Adam):
    """Adam whose third step waits until the test releases it, as a hung optimizer would."""

    def __init__(self, *args, release, **kwargs):
        super().__init__(*args, **kwargs)
        self.release = release

    def step(self, closure=None):
        if self.state and next(iter(self.state.values()))["step"].item() >= 2:
            self.release.wait(30)
        return super().step(closure)


def test_step_timeout_stops_a_hung_step(tmp_path, capsys):
    release = threading.Event()
    built = preset().build()
    optimizer = HangingAdam(built.model.parameters(), lr=0.1, betas=(0.9, 0.99),
                            release=release)
    stepper = DeadlineStepper(Stepper(built.model, optimizer, built.loss_fn, built.batches),
                              0.5)
    output, report = tmp_path / "run.jsonl", tmp_path / "report.xml"
    args = build_parser().parse_args(["check", "-q", "--json", "-o", str(output), "--junit",
                                      str(report)])
    try:
        status = run_check(stepper, args, 5)
    finally:
        release.set()
    err = capsys.readouterr().err
    assert status == 3
    assert ("optimstep check: error: step 3 timed out after 0.5 s (the model, loss or optimizer "
            "did not return; raise --step-timeout if it is only slow)") in err.splitlines()
    assert [record.step for record in read_trace(output).records] == [1, 2]
    error = ET.parse(report).getroot().find(".//testcase[@name='run']/error")
    assert error.get("type") == "StepTimeout"


def test_step_timeout_passes_steps_through(capsys):
    stepper = DeadlineStepper(Stepper.from_scenario(preset()), 30)
    status = run_check(stepper, build_parser().parse_args(["check", "-q"]), 3)
    assert status == 0
    assert stepper.step_count == 3


def test_step_timeout_hands_on_user_errors(tmp_path, capsys):
    built = preset().build()
    optimizer = RaisingAdam(built.model.parameters(), lr=0.1, betas=(0.9, 0.99))
    stepper = DeadlineStepper(Stepper(built.model, optimizer, built.loss_fn, built.batches), 30)
    status = run_check(stepper, build_parser().parse_args(["check", "-q"]), 5)
    assert status == 1
    assert "step 3: step raised RuntimeError: planted failure" in capsys.readouterr().err


@pytest.mark.parametrize("signum, status, name", [(signal.SIGTERM, 143, "SIGTERM"),
                                                 (signal.SIGINT, 130, "Ctrl-C")])
def test_signal_keeps_the_steps_taken(tmp_path, signum, status, name):
    output = tmp_path / "run.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "optimstep.tui", "check", "--steps", "1000000", "--quiet",
         "--json", "-o", str(output)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        # Wait until steps reach the temporary file that becomes the output.
        for _ in range(600):
            if any(path.stat().st_size > 0 for path in tmp_path.glob(".*.tmp")):
                break
            process.poll()
            assert process.returncode is None
            time.sleep(0.1)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    steps = len(output.read_text().splitlines())
    assert process.returncode == status
    assert steps >= 1
    assert (f"optimstep check: interrupted by {name} after step {steps}; the {steps} steps "
            "taken are reported and written") in err.splitlines()
    assert list(tmp_path.glob(".*.tmp")) == []
