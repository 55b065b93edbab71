"""Bad scenario files and flags: one line on stderr naming the file, key and value; exit 2."""

import subprocess
import sys
from pathlib import Path

import pytest

from optimstep.tui.cli import main

HERE = Path(__file__).parent

# (id, scenario file text or None for no --scenario, extra arguments, fragments of the message)
CASES = [
    ("unknown-top-level-key", "stepz = 5\n", [],
     ["unknown key stepz = 5", "expected one of: preset, name"]),
    ("steps-zero", "steps = 0\n", [], ["invalid steps: 0", "an integer >= 1"]),
    ("seed-too-large", "seed = 99999999999999999999999\n", [],
     ["invalid seed: 99999999999999999999999", "from 0 to 2**64 - 1"]),
    ("seed-negative", "seed = -1\n", [], ["invalid seed: -1", "from 0 to 2**64 - 1"]),
    ("steps-boolean", "steps = true\n", [], ["invalid steps: true", "an integer >= 1"]),
    ("dtype", 'dtype = "float8"\n', [], ["invalid dtype: 'float8'", "float64, float32"]),
    ("device-unavailable", 'device = "cuda:99"\n', [], ["invalid device: 'cuda:99'", "cpu"]),
    ("device-unknown", 'device = "gpu"\n', [], ["invalid device: 'gpu'", "cpu, cuda, cuda:N"]),
    ("toml-syntax", "steps = \n", [], ["invalid TOML", "line 1"]),
    ("negative-lr", "[optimizer]\nlr = -0.1\n", [], ["invalid optimizer.lr: -0.1", ">= 0"]),
    ("beta-above-one", "[optimizer]\nbetas = [0.9, 1.5]\n", [],
     ["invalid optimizer.betas: [0.9, 1.5]", "two numbers >= 0 and < 1"]),
    ("eps-nan", "[optimizer]\neps = nan\n", [], ["invalid optimizer.eps: nan", "finite"]),
    ("unknown-hyperparameter", "[optimizer]\nlrr = 0.1\n", [],
     ["unknown key optimizer.lrr = 0.1", "lr, betas, eps"]),
    ("optimizer-name", '[optimizer]\nname = "sgdx"\n', [],
     ["invalid optimizer.name: 'sgdx'", "expected one of", "adamw"]),
    ("model-kind", '[model]\nkind = "cnn"\n', [],
     ["invalid model.kind: 'cnn'", "linear, mlp, rosenbrock"]),
    ("model-as-string", 'model = "mlp"\n', [], ["invalid model: 'mlp'", "a table: [model]"]),
    ("mlp-width-zero", '[model]\nkind = "mlp"\nhidden = [0]\n', [],
     ["invalid model.hidden: [0]", "integer >= 1"]),
    ("option-of-other-kind", '[model]\nkind = "rosenbrock"\nin_features = 2\n', [],
     ["unknown key model.in_features = 2", "kind, a, b"]),
    ("strategy-without-ranks", None, ["--strategy", "zero"],
     ["--strategy applies to a distributed run", "--ranks 2 or more"]),
    ("in-features-vs-data", "[model]\nin_features = 3\n", [],
     ["invalid model.in_features: 3", "expected 1"]),
    ("data-file-missing", '[data]\nsource = "csv"\npath = "nope.csv"\n', [],
     ["invalid data.path: 'nope.csv'", "file not found"]),
    ("data-source", '[data]\nsource = "parquet"\n', [],
     ["invalid data.source: 'parquet'", "inline, pt, csv, synthetic"]),
    ("batch-size-zero",
     '[data]\nsource = "inline"\ninputs = [[1.0]]\ntargets = [[1.0]]\nbatch_size = 0\n', [],
     ["invalid data.batch_size: 0", "integer >= 1"]),
    ("parameter-shape", "[parameters]\nweight = [1.0, 2.0]\n", [],
     ["invalid parameters.weight: [1.0, 2.0]", "shape (1, 1)"]),
    ("parameter-name", "[parameters]\nwheight = 1.0\n", [],
     ["invalid parameters: 'wheight'", "weight, bias"]),
    ("param-group-name", '[[optimizer.param_groups]]\nparams = ["weigth"]\n', [],
     ["invalid param_groups[0].params: 'weigth'", "weight, bias"]),
    ("class-without-colon", '[optimizer]\nclass = "nocolon"\n', [],
     ["invalid optimizer.class: 'nocolon'", "'package.module:Class'"]),
    ("class-module-missing", '[optimizer]\nclass = "nowhere_module:Adam"\n', [],
     ["'nowhere_module:Adam'", "module 'nowhere_module' not found"]),
    ("name-and-class", '[optimizer]\nname = "adam"\nclass = "a:B"\n', [],
     ["invalid optimizer.class: 'a:B'", "either optimizer.name or optimizer.class"]),
    ("negative-rtol", "[tolerance]\nrtol = -1\n", [], ["invalid tolerance.rtol: -1", ">= 0"]),
    ("unknown-preset-in-file", 'preset = "huge"\n', [],
     ["invalid preset: 'huge'", "linear, rosenbrock, mlp, logistic, large-mlp"]),
    ("preset-with-scenario", "", ["--preset", "mlp"], ["invalid --preset: 'mlp'", "--scenario"]),
    ("flag-class-without-colon", None, ["--optimizer-class", "nocolon"],
     ["invalid --optimizer-class: 'nocolon'", "'package.module:Class'"]),
    ("flag-class-module-missing", None, ["--optimizer-class", "nowhere_module:Adam"],
     ["invalid --optimizer-class: 'nowhere_module:Adam'", "not found"]),
    ("flag-class-not-optimizer", None, ["--optimizer-class", "collections:OrderedDict"],
     ["invalid --optimizer-class: 'collections:OrderedDict'", "torch.optim.Optimizer"]),
    ("flag-class-no-such-class", None, ["--optimizer-class", "torch.optim:Adamm"],
     ["invalid --optimizer-class: 'torch.optim:Adamm'", "has no 'Adamm'"]),
    ("flag-class-without-rule", None, ["--optimizer-class", "adam_free_module:Descent"],
     ["missing reference rule for", "--reference-rule"]),
    ("flag-class-takes-no-setting", None,
     ["--optimizer-class", "adam_free_module:Descent", "--reference-rule", "sgd",
      "--set", "momentum=0.9"],
     ["invalid --set: 'momentum=0.9'", "Descent takes no 'momentum'; it accepts lr, betas, eps"]),
    ("flag-class-takes-no-flag", None,
     ["--optimizer-class", "adam_free_module:Descent", "--reference-rule", "sgd",
      "--weight-decay", "0.1"],
     ["invalid --weight-decay: '0.1'", "Descent takes no 'weight_decay'"]),
    ("flag-reference-rule", None, ["--reference-rule", "no-such-rule"],
     ["--reference-rule", "invalid choice: 'no-such-rule'"]),
    ("flag-preset", None, ["--preset", "nope"], ["invalid --preset: 'nope'", "linear"]),
    ("flag-missing-file", None, ["--scenario", "missing.toml"],
     ["invalid scenario file: 'missing.toml'", "file not found"]),
]

DESCENT = """\
import torch


class Descent(torch.optim.Optimizer):
    def __init__(self, params, lr=0.1, betas=(0.9, 0.99), eps=1e-8):
        super().__init__(params, {"lr": lr})
"""


def arguments(tmp_path, text, extra):
    if text is None:
        return extra
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return ["--scenario", str(path), *extra]


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    (tmp_path / "adam_free_module.py").write_text(DESCENT)
    monkeypatch.chdir(tmp_path)


def _app_opened(*args, **kwargs):
    raise AssertionError("the input was accepted and the app opened")


@pytest.fixture(autouse=True)
def app_never_opens(monkeypatch):
    # A case that stops being invalid must fail here, not wait for keys in an open app.
    from optimstep.tui.app import OptimstepApp

    monkeypatch.setattr(OptimstepApp, "run", _app_opened)


@pytest.fixture(params=["run", "check"])
def command(request):
    return request.param


@pytest.mark.parametrize("text,extra,fragments", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_message(tmp_path, capsys, command, text, extra, fragments):
    status = _run(command, arguments(tmp_path, text, extra))
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    for fragment in fragments:
        assert fragment in err
    if text is not None and "--preset" not in extra:
        assert "bad.toml" in err


def _run(command, args):
    try:
        return main([command, *args])
    except SystemExit as exit_:
        return exit_.code


def test_cases_are_at_least_fifteen():
    assert len(CASES) >= 15


@pytest.mark.parametrize("args,fragment", [
    (["--scenario", "missing.toml"], "invalid scenario file: 'missing.toml' (file not found)"),
    (["--optimizer-class", "nocolon"], "invalid --optimizer-class: 'nocolon'"),
])
def test_bad_input_in_subprocess(tmp_path, args, fragment):
    result = subprocess.run([sys.executable, "-m", "optimstep.tui", "check", *args],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    lines = result.stderr.splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert lines[0].startswith("optimstep check: error: ")
    assert fragment in lines[0]
