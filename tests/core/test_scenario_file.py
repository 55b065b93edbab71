"""Scenario files: TOML read into a validated Scenario that steps like the equivalent preset."""

import dataclasses
from pathlib import Path

import pytest
import torch

from optimstep.core import Scenario, ScenarioError, Stepper, Tolerance, preset
from optimstep.core.data import CsvFile, Synthetic, TensorFile
from optimstep.core.scenario_file import load_scenario

EXAMPLES = Path(__file__).parent.parent.parent / "examples"


def write(tmp_path, text, name="scenario.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load(tmp_path, text):
    return load_scenario(write(tmp_path, text))


def test_example_file_steps_like_default_scenario():
    from_file = Stepper.from_scenario(load_scenario(EXAMPLES / "scenario.toml")).run(5)
    default = Stepper.from_scenario(preset()).run(5)
    assert all(torch.equal(a.after, b.after) for r, s in zip(from_file, default)
               for a, b in zip(r.params, s.params))


def test_example_file_matches_default_fields():
    scenario = load_scenario(EXAMPLES / "scenario.toml")
    same = dataclasses.replace(scenario, description="", source=None, tolerance=None,
                               data=None)
    assert same == Scenario()


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_file_passes_three_steps(path, monkeypatch):
    monkeypatch.chdir(EXAMPLES)
    records = Stepper.from_scenario(load_scenario(path)).run(3)
    assert [r.step for r in records if not r.passed] == []


def test_empty_file_is_default_scenario(tmp_path):
    scenario = load(tmp_path, "")
    assert dataclasses.replace(scenario, name="linear", source=None) == preset()


def test_name_defaults_to_file_stem(tmp_path):
    assert load_scenario(write(tmp_path, "", "my-run.toml")).name == "my-run"


def test_source_is_the_path(tmp_path):
    path = write(tmp_path, "")
    assert load_scenario(path).source == str(path)


def test_scalar_keys(tmp_path):
    scenario = load(tmp_path, 'name = "n"\nseed = 4\nsteps = 7\ndtype = "float64"\n'
                              'reference = "textbook"\nloss = "l1"\n')
    assert (scenario.name, scenario.seed, scenario.steps, scenario.dtype, scenario.reference,
            scenario.loss) == ("n", 4, 7, "float64", "textbook", "l1")


def test_preset_is_the_base(tmp_path):
    scenario = load(tmp_path, 'preset = "mlp"\nsteps = 3\n')
    assert dataclasses.replace(scenario, name="mlp", steps=200, source=None) == preset("mlp")


def test_model_options_merge_over_same_kind(tmp_path):
    scenario = load(tmp_path, 'preset = "mlp"\n[model]\nhidden = [16]\n')
    assert (scenario.in_features, scenario.model_options["hidden"],
            scenario.model_options["activation"]) == (8, [16], "tanh")


def test_changed_model_drops_base_parameters(tmp_path):
    scenario = load(tmp_path, "[model]\nin_features = 2\n")
    assert scenario.parameters == {}


def test_unchanged_model_keeps_base_parameters(tmp_path):
    scenario = load(tmp_path, '[model]\nkind = "linear"\nin_features = 1\n')
    assert scenario.parameters == preset().parameters


def test_other_model_kind_starts_fresh(tmp_path):
    scenario = load(tmp_path, '[model]\nkind = "mlp"\n')
    assert (scenario.in_features, scenario.model_options) == (1, {})


def test_dotted_parameter_names_are_joined(tmp_path):
    scenario = load(tmp_path, '[model]\nkind = "mlp"\nhidden = [2]\n'
                              '[parameters]\nhidden1.bias = [0.5, -0.5]\n"output.bias" = [1.0]\n')
    assert scenario.parameters == {"hidden1.bias": [0.5, -0.5], "output.bias": [1.0]}


def test_parameter_values_are_set(tmp_path):
    scenario = load(tmp_path, '[model]\nkind = "mlp"\nhidden = [2]\n'
                              '[parameters]\nhidden1.bias = [0.5, -0.5]\n')
    model = scenario.build().model
    assert model.hidden1.bias.tolist() == [0.5, -0.5]


def test_csv_path_is_relative_to_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("x,y\n1,2\n")
    scenario = load_scenario(write(tmp_path / "sub", '[data]\nsource = "csv"\npath = "d.csv"\n'))
    assert scenario.data == CsvFile(tmp_path / "sub" / "d.csv")


def test_csv_keys(tmp_path):
    (tmp_path / "d.csv").write_text("1;2;3\n")
    scenario = load(tmp_path, '[data]\nsource = "csv"\npath = "d.csv"\ninputs = [0, 2]\n'
                              'targets = 1\nheader = false\ndelimiter = ";"\n')
    assert scenario.data == CsvFile(tmp_path / "d.csv", (0, 2), (1,), False, ";")


def test_pt_keys(tmp_path):
    torch.save({"x": torch.zeros(2, 1), "y": torch.zeros(2, 1)}, tmp_path / "d.pt")
    scenario = load(tmp_path, '[data]\nsource = "pt"\npath = "d.pt"\ninputs = "x"\n'
                              'targets = "y"\n')
    assert scenario.data == TensorFile(tmp_path / "d.pt", "x", "y")


def test_synthetic_keys_and_batching(tmp_path):
    scenario = load(tmp_path, '[data]\nsource = "synthetic"\ntask = "classification"\n'
                              'samples = 20\nfeatures = 3\nnoise = 0.0\nseed = 9\n'
                              'batch_size = 5\nshuffle = true\n')
    assert scenario.data == Synthetic("classification", 20, 3, 1, 0.0, 9)
    assert (scenario.batch_size, scenario.shuffle) == (5, True)


def test_inline_data_builds_batches(tmp_path):
    scenario = load(tmp_path, '[data]\nsource = "inline"\ninputs = [[1.0], [2.0], [3.0]]\n'
                              'targets = [[1.0], [2.0], [3.0]]\nbatch_size = 2\n')
    assert [len(x) for x, _ in scenario.build().batches] == [2, 1]


def test_optimizer_hyperparameters_merge_over_base(tmp_path):
    scenario = load(tmp_path, "[optimizer]\nlr = 0.5\n")
    assert scenario.hyperparameters == {"lr": 0.5, "betas": (0.9, 0.99), "eps": 1e-8}


def test_other_optimizer_starts_from_its_defaults(tmp_path):
    scenario = load(tmp_path, '[optimizer]\nname = "adamw"\nlr = 0.5\n')
    assert scenario.hyperparameters == {"lr": 0.5}


def test_betas_become_a_tuple(tmp_path):
    scenario = load(tmp_path, "[optimizer]\nbetas = [0.8, 0.9]\n")
    assert scenario.hyperparameters["betas"] == (0.8, 0.9)


def test_param_groups_reach_the_optimizer(tmp_path):
    scenario = load(tmp_path, '[[optimizer.param_groups]]\nparams = ["bias"]\nlr = 0.01\n')
    groups = scenario.build().optimizer.param_groups
    assert [(len(g["params"]), g["lr"]) for g in groups] == [(1, 0.01), (1, 0.1)]


def test_param_groups_pass_checks(tmp_path):
    scenario = load(tmp_path, '[[optimizer.param_groups]]\nparams = ["bias"]\nlr = 0.01\n')
    assert all(r.passed for r in Stepper.from_scenario(scenario).run(3))


def test_param_group_lr_shows_in_step(tmp_path):
    scenario = load(tmp_path, '[[optimizer.param_groups]]\nparams = ["bias"]\nlr = 0.01\n')
    record = Stepper.from_scenario(scenario).step()
    # Adam's first step is lr·sign(−g) for each parameter.
    assert record.param("bias").actual_update.item() == pytest.approx(0.01, rel=1e-5)


def test_optimizer_class_and_reference_rule(tmp_path):
    scenario = load(tmp_path, '[optimizer]\nclass = "pkg.mod:Adam"\nreference_rule = "adam"\n')
    assert (scenario.optimizer_class, scenario.reference_rule) == ("pkg.mod:Adam", "adam")


def test_optimizer_class_found_next_to_file(tmp_path, monkeypatch):
    monkeypatch.chdir(EXAMPLES.parent)
    (tmp_path / "adam_next_to_file.py").write_text(
        "import torch\n\nclass Mine(torch.optim.Adam):\n    pass\n")
    scenario = load(tmp_path, '[optimizer]\nclass = "adam_next_to_file:Mine"\n'
                              "lr = 0.1\nbetas = [0.9, 0.99]\n")
    assert Stepper.from_scenario(scenario).step().passed


def test_tolerance_partial_takes_dtype_default(tmp_path):
    scenario = load(tmp_path, 'dtype = "float64"\n[tolerance]\nrtol = 0.001\n')
    assert scenario.tolerance == Tolerance(rtol=0.001, atol=1e-7)


def test_build_error_names_the_file(tmp_path):
    path = write(tmp_path, "[parameters]\nnope = 1.0\n")
    with pytest.raises(ScenarioError, match=f"^{path}: invalid parameters: 'nope'"):
        load_scenario(path).build()


def test_unknown_hyperparameter_lists_the_signature(tmp_path):
    with pytest.raises(ScenarioError, match=r"unknown key optimizer.lrr = 0.1 \(expected one "
                                            r"of: name, class, reference_rule, param_groups, "
                                            r"lr, betas"):
        load(tmp_path, "[optimizer]\nlrr = 0.1\n")


def test_rosenbrock_kind_sets_its_loss(tmp_path):
    assert load(tmp_path, '[model]\nkind = "rosenbrock"\n').loss == "output"


def test_rosenbrock_rejects_other_losses(tmp_path):
    with pytest.raises(ScenarioError, match=r"invalid loss: 'mse' \(expected 'output'"):
        load(tmp_path, 'loss = "mse"\n[model]\nkind = "rosenbrock"\n')
