"""Teaching variants of the Adam references fail torch's checks by the size of each mistake."""

from __future__ import annotations

import math

import pytest
import torch

from optimstep.core import Scenario, Stepper
from optimstep.core.rules.adam import Adam, AdamW
from optimstep.core.rules.base import Rule
from optimstep.core.rules_teaching import (VARIANTS, TeachingAdam, TeachingAdamW, set_rule,
                                           supports_variant, teaching_rule)


def default_stepper(**hyperparameters) -> Stepper:
    settings = {"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8, **hyperparameters}
    return Stepper.from_scenario(Scenario(hyperparameters=settings))


def with_variants(stepper: Stepper, *variants: str) -> Stepper:
    set_rule(stepper, teaching_rule(stepper.rule, variants))
    return stepper


def check(record, name: str, mode: str = "single"):
    return next(c for c in record.checks if c.name == name and c.mode == mode)


def adam_update(m: float, v: float, t: int, lr=0.1, betas=(0.9, 0.99), eps=1e-8,
                corrected=True) -> float:
    """Adam's update in Python floats, from the published formula."""
    m_hat = m / (1 - betas[0] ** t) if corrected else m
    v_hat = v / (1 - betas[1] ** t) if corrected else v
    return -lr * m_hat / (math.sqrt(v_hat) + eps)


def test_no_variants_gives_plain_rule():
    assert type(teaching_rule(Adam(), ())) is Adam


def test_adamw_gives_teaching_adamw():
    assert type(teaching_rule(AdamW(), {"l2-decay"})) is TeachingAdamW


def test_flavour_is_kept():
    assert teaching_rule(Adam("textbook"), {"eps-inside-root"}).flavour == "textbook"


def test_unknown_variant_rejected():
    with pytest.raises(ValueError, match="unknown teaching variant: 'typo'"):
        TeachingAdam("torch", {"typo"})


def test_other_rules_rejected():
    class Other(Rule):
        title = "Other"
    with pytest.raises(ValueError, match="no teaching variants for the Other rule"):
        teaching_rule(Other(), {"no-bias-correction"})


def test_set_rule_rejects_other_optimizer():
    stepper = default_stepper()
    with pytest.raises(ValueError, match="describes AdamW, not Adam"):
        set_rule(stepper, AdamW())


def test_no_bias_correction_cancels_at_step_1():
    record = with_variants(default_stepper(), "no-bias-correction").step()
    assert check(record, "weight.param").passed


def test_no_bias_correction_fails_at_step_2_by_expected_error():
    stepper = default_stepper()
    stepper.step()
    record = with_variants(stepper, "no-bias-correction").step()
    m, v = 0.9 * -0.45 + 0.1 * -3.7, 0.99 * 0.2025 + 0.01 * 3.7**2
    expected = abs(adam_update(m, v, 2) - adam_update(m, v, 2, corrected=False))
    assert not check(record, "weight.param").passed
    assert check(record, "weight.param").max_abs_error == pytest.approx(expected, rel=1e-4)


def test_no_bias_correction_fails_at_step_1_with_other_betas():
    record = with_variants(default_stepper(betas=(0.9, 0.999)), "no-bias-correction").step()
    m, v = 0.1 * -4.5, 0.001 * 4.5**2
    expected = abs(adam_update(m, v, 1, betas=(0.9, 0.999))
                   - adam_update(m, v, 1, betas=(0.9, 0.999), corrected=False))
    assert check(record, "weight.param").max_abs_error == pytest.approx(expected, rel=1e-4)


def test_variants_keep_moment_checks_passing():
    stepper = with_variants(default_stepper(), *VARIANTS)
    records = stepper.run(3)
    moments = [c for r in records for c in r.checks if c.name.endswith(("exp_avg", "exp_avg_sq"))]
    assert all(c.passed for c in moments)


def test_switching_back_passes_again():
    stepper = with_variants(default_stepper(), "no-bias-correction")
    stepper.run(2)
    set_rule(stepper, teaching_rule(stepper.rule, ()))
    assert stepper.step().passed


def test_eps_inside_root_fails_with_large_eps():
    record = with_variants(default_stepper(eps=0.1), "eps-inside-root").step()
    m, v = 0.1 * -4.5, 0.01 * 4.5**2
    m_hat, v_hat = m / 0.1, v / 0.01
    expected = abs(-0.1 * m_hat / (math.sqrt(v_hat) + 0.1) + 0.1 * m_hat / math.sqrt(v_hat + 0.1))
    assert check(record, "weight.param").max_abs_error == pytest.approx(expected, rel=1e-4)


def test_eps_inside_root_within_tolerance_for_tiny_eps():
    record = with_variants(default_stepper(), "eps-inside-root").step()
    assert check(record, "weight.param").passed


def adamw_stepper() -> Stepper:
    scenario = Scenario(optimizer="adamw",
                        hyperparameters={"lr": 0.1, "betas": (0.9, 0.99), "weight_decay": 0.5})
    return Stepper.from_scenario(scenario)


def test_l2_decay_fails_adamw():
    record = with_variants(adamw_stepper(), "l2-decay").step()
    assert not check(record, "weight.param").passed


def test_l2_decay_moves_decay_into_gradient():
    stepper = with_variants(adamw_stepper(), "l2-decay")
    terms = {term.name for term in stepper.step().param("weight").terms}
    assert "g_decayed" in terms
    assert "decayed" not in terms


def test_l2_decay_needs_decoupled_decay():
    group = {"weight_decay": 0.1, "decoupled_weight_decay": False}
    assert not supports_variant(Adam(), group, "l2-decay")
    assert supports_variant(AdamW(), group, "l2-decay")
    assert supports_variant(Adam(), {"decoupled_weight_decay": True}, "l2-decay")


def test_amsgrad_vhat_fails_carried_check_once_vhat_drops():
    # v̂ is 20.25 at step 1 and 16.95 at step 2, so the maximum over v̂ keeps 20.25.
    stepper = with_variants(default_stepper(), "amsgrad-vhat")
    first, second = stepper.run(2)
    assert check(first, "weight.param", "carried").passed
    assert not check(second, "weight.param", "carried").passed


def test_amsgrad_vhat_update_uses_max_vhat():
    stepper = with_variants(default_stepper(), "amsgrad-vhat")
    second = stepper.run(2)[1]
    m = 0.9 * -0.45 + 0.1 * -3.7
    expected = -0.1 * (m / 0.19) / (math.sqrt(20.25) + 1e-8)
    update = second.param("weight").term("update", carried=True)
    assert update.value.item() == pytest.approx(expected, rel=1e-5)


def test_amsgrad_vhat_keeps_max_of_vhat_with_torch_amsgrad():
    stepper = with_variants(default_stepper(amsgrad=True), "amsgrad-vhat")
    record = stepper.step()
    # torch keeps max(v) = 0.2025; the textbook variant keeps v̂ = 20.25.
    assert not check(record, "weight.max_exp_avg_sq").passed
    assert check(record, "weight.param").passed


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_terms_follow_formula_order(variant):
    stepper = with_variants(default_stepper(), variant)
    names = [t.name for t in stepper.step().param("weight").terms]
    assert names.index("m") < names.index("m_hat") < names.index("denom") < names.index("update")


def test_variant_leaves_inputs_unchanged():
    rule = TeachingAdam("torch", set(VARIANTS))
    param, grad = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.25])
    state = rule.initial_state(param, {"amsgrad": False})
    copies = {key: value.clone() for key, value in state.items()}
    rule.step(param, grad, state, {"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8})
    assert all(torch.equal(state[key], copies[key]) for key in state)
