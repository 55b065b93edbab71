"""One's own optimizer class, loaded by import path and checked against a chosen rule."""

import sys
from pathlib import Path

import pytest
import torch

from optimstep.core import Scenario, ScenarioError, Stepper, preset
from optimstep.core.rules.adam import Adam
from optimstep.core.custom import constructor_keys, load_optimizer_class

HERE = Path(__file__).parent
EXAMPLES = HERE.parent.parent / "examples"


@pytest.fixture(autouse=True)
def importable(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))


def stepper_for(path, **changes):
    return Stepper.from_scenario(Scenario(optimizer_class=path, **changes))


def check_named(record, name, mode="single"):
    return next(c for c in record.checks if c.name == name and c.mode == mode)


def test_planted_bug_fails_param_checks_at_step_one():
    record = stepper_for("adam_variants:NoFirstBiasCorrectionAdam", reference_rule="adam").step()
    assert {check.name for check in record.failures} == {"weight.param", "bias.param"}


@pytest.mark.parametrize("param", ["weight", "bias"])
def test_planted_bug_error_size_at_step_one(param):
    record = stepper_for("adam_variants:NoFirstBiasCorrectionAdam", reference_rule="adam").step()
    # Adam's first step is lr·sign(−g) = 0.1; without m̂ the step is lr·(1 − β1) = 0.01.
    assert check_named(record, f"{param}.param").max_abs_error == pytest.approx(0.09, rel=1e-5)


@pytest.mark.parametrize("param", ["weight", "bias"])
def test_planted_bug_updates_at_step_one(param):
    record = stepper_for("adam_variants:NoFirstBiasCorrectionAdam", reference_rule="adam").step()
    entry = record.param(param)
    assert entry.computed_update.item() == pytest.approx(0.1, rel=1e-6)
    assert entry.actual_update.item() == pytest.approx(0.01, rel=1e-5)


def test_planted_bug_leaves_moments_right():
    record = stepper_for("adam_variants:NoFirstBiasCorrectionAdam", reference_rule="adam").step()
    assert check_named(record, "weight.exp_avg").passed


def test_planted_bug_fails_every_step():
    records = stepper_for("adam_variants:NoFirstBiasCorrectionAdam",
                          reference_rule="adam").run(5)
    assert [r.step for r in records if r.passed] == []


def test_torch_order_reimplementation_passes():
    records = stepper_for("adam_variants:TorchOrderAdam", reference_rule="adam").run(101)
    assert [r.step for r in records if not r.passed] == []


def test_paper_adam_example_passes_textbook_rule(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    records = stepper_for("custom_adam:PaperAdam", reference_rule="adam",
                          reference="textbook").run(101)
    assert [r.step for r in records if not r.passed] == []


def test_subclass_defaults_to_nearest_base_rule():
    stepper = stepper_for("adam_variants:SubclassedAdam")
    assert stepper.rule.name == "adam"


def test_subclass_passes_its_base_rule():
    assert stepper_for("adam_variants:SubclassedAdam").step().passed


def test_reference_rule_overrides_default():
    stepper = stepper_for("adam_variants:SubclassedAdam", reference_rule="adamw")
    assert stepper.rule.name == "adamw"


def test_class_without_rule_needs_reference_rule():
    with pytest.raises(ScenarioError, match="reference_rule"):
        stepper_for("adam_variants:PlainSGD", hyperparameters={"lr": 0.1})


def test_unknown_hyperparameter_names_accepted_ones():
    with pytest.raises(ScenarioError, match=r"optimizer\.betas.*PlainSGD accepts lr"):
        stepper_for("adam_variants:PlainSGD", reference_rule="adam")


def test_constructor_error_becomes_scenario_error(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    with pytest.raises(ScenarioError, match="invalid hyper-parameters for PaperAdam"):
        stepper_for("custom_adam:PaperAdam", reference_rule="adam",
                    hyperparameters={"lr": -1.0})


def test_constructor_keys_of_adam_variant():
    from adam_variants import TorchOrderAdam

    assert constructor_keys(TorchOrderAdam) == ("lr", "betas", "eps")


def test_constructor_keys_none_for_var_keywords():
    class Open(torch.optim.Optimizer):
        def __init__(self, params, **defaults):
            super().__init__(params, defaults)

    assert constructor_keys(Open) is None


BAD_PATHS = [
    ("adam_variants.TorchOrderAdam", "one colon"),
    ("adam_variants:Torch:OrderAdam", "one colon"),
    ("adam-variants:TorchOrderAdam", "Python identifier"),
    ("no_such_module_here:Adam", "module 'no_such_module_here' not found"),
    ("adam_variants:Missing", "has no 'Missing'; optimizer classes in it: NoFirstBiasCorrection"),
    ("adam_variants:NOT_A_CLASS", "a int, not a class"),
    ("adam_variants:NotAnOptimizer", "does not subclass torch.optim.Optimizer"),
]


@pytest.mark.parametrize("path,fragment", BAD_PATHS, ids=[p for p, _ in BAD_PATHS])
def test_bad_class_path_is_one_line_error(path, fragment):
    with pytest.raises(ScenarioError) as caught:
        stepper_for(path, reference_rule="adam")
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_module_raising_on_import_is_reported(tmp_path, monkeypatch):
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('broken\\nmodule')\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match="raised RuntimeError: broken module"):
        load_optimizer_class("raises_on_import:Adam")


def test_missing_dependency_is_not_reported_as_missing_module(tmp_path, monkeypatch):
    (tmp_path / "needs_missing_dependency.py").write_text("import not_installed_anywhere\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError, match="importing 'needs_missing_dependency' failed"):
        load_optimizer_class("needs_missing_dependency:Adam")


def test_current_directory_is_searched(tmp_path, monkeypatch):
    (tmp_path / "adam_in_cwd.py").write_text(
        "import torch\n\nclass CwdAdam(torch.optim.Adam):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert load_optimizer_class("adam_in_cwd:CwdAdam").__name__ == "CwdAdam"


def test_search_path_is_restored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = list(sys.path)
    with pytest.raises(ScenarioError):
        load_optimizer_class("also_not_a_module:Adam", [tmp_path / "sub"])
    assert sys.path == before


class FailingAdamRule(Adam):
    """The Adam rule with a bug: its step raises."""

    def step(self, param, grad, state, group):
        raise RuntimeError("planted reference failure")


def failing_reference_stepper():
    built = preset().build()
    return Stepper(built.model, built.optimizer, built.loss_fn, built.batches,
                   rule=FailingAdamRule())


def test_rule_error_is_reference_error():
    from optimstep.core import UserCodeError

    with pytest.raises(UserCodeError) as caught:
        failing_reference_stepper().step()
    assert (caught.value.phase, str(caught.value.error)) == (
        "reference", "planted reference failure")


def test_reference_error_restores_parameters():
    from optimstep.core import UserCodeError

    stepper = failing_reference_stepper()
    with pytest.raises(UserCodeError):
        stepper.step()
    assert stepper.model.weight.item() == -0.5
