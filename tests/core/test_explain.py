"""The explained update: formulas with numbers, checked by evaluating the numbers."""

from __future__ import annotations

import math
import re

import pytest
import torch

from optimstep.core import Scenario, Stepper
from optimstep.core.explain import explain, number, operand
from optimstep.core.rules_teaching import VARIANTS, set_rule, teaching_rule


@pytest.fixture
def records():
    return Stepper.from_scenario(Scenario()).run(3)


def evaluate(substitution: str) -> float:
    """Evaluate a substitution written with ×, −, √, ² and ^ as Python arithmetic."""
    text = substitution.replace("×", "*").replace("−", "-").replace("²", "**2")
    text = text.replace("^", "**")
    text = re.sub(r"√(\(|[0-9.e+-]+)", lambda m: "sqrt(" if m.group(1) == "(" else
                  f"sqrt({m.group(1)})", text)
    # sqrt( opened from "√(" already has its closing parenthesis.
    return eval(text, {"sqrt": math.sqrt, "max": max})


def line(lines, symbol):
    return next(item for item in lines if item.symbol == symbol)


def test_first_moment_at_step_2(records):
    lines = explain("adam", records[1], "weight", 0, records[0])
    assert line(lines, "m").substitution == "0.9 × (−0.4500) + 0.1 × (−3.7000)"
    assert number(line(lines, "m").value) == "−0.7750"


def test_second_moment_at_step_2(records):
    lines = explain("adam", records[1], "weight", 0, records[0])
    assert line(lines, "v").substitution == "0.99 × 0.2025 + 0.01 × (−3.7000)²"


def test_bias_correction_names_step(records):
    lines = explain("adam", records[1], "weight", 0, records[0])
    assert line(lines, "m̂").substitution == "−0.7750 / (1 − 0.9^2)"


def test_lines_follow_terms_then_results(records):
    lines = explain("adam", records[1], "bias", 0, records[0])
    symbols = [t.symbol for t in records[1].param("bias").terms]
    assert [item.symbol for item in lines] == symbols + ["θ after", "torch Δθ"]


def test_values_equal_term_values(records):
    lines = explain("adam", records[2], "weight", 0, records[1])
    for term in records[2].param("weight").terms:
        assert line(lines, term.symbol).value == pytest.approx(term.value.item())


def test_torch_update_is_after_minus_before(records):
    param = records[2].param("weight")
    lines = explain("adam", records[2], "weight", 0, records[1])
    assert line(lines, "torch Δθ").value == pytest.approx((param.after - param.before).item())
    assert "0 ulp" in line(lines, "torch Δθ").note


@pytest.mark.parametrize("step", [0, 1, 2])
@pytest.mark.parametrize("name", ["weight", "bias"])
def test_substitutions_evaluate_to_values(records, step, name):
    previous = records[step - 1] if step else None
    for item in explain("adam", records[step], name, 0, previous):
        if item.substitution:
            assert evaluate(item.substitution) == pytest.approx(item.value, rel=2e-3,
                                                                abs=1e-4), item


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_substitutions_evaluate_to_values(variant):
    stepper = Stepper.from_scenario(Scenario(
        optimizer="adamw", hyperparameters={"lr": 0.1, "betas": (0.9, 0.99), "eps": 0.01}))
    set_rule(stepper, teaching_rule(stepper.rule, {variant}))
    records = stepper.run(2)
    for item in explain("adamw", records[1], "weight", 0, records[0]):
        if item.substitution:
            assert evaluate(item.substitution) == pytest.approx(item.value, rel=2e-3,
                                                                abs=1e-4), item


def test_textbook_flavour_substitutes_every_moment():
    records = Stepper.from_scenario(Scenario(reference="textbook")).run(2)
    lines = explain("adam", records[1], "weight", 0, records[0])
    assert all(line(lines, symbol).substitution for symbol in ("m", "v", "m̂", "v̂", "d", "Δθ"))


def test_missing_previous_leaves_moments_unsubstituted(records):
    lines = explain("adam", records[2], "weight", 0, None)
    assert line(lines, "m").substitution == ""
    assert line(lines, "m̂").substitution != ""


def test_unknown_rule_falls_back_to_terms(records):
    lines = explain("no-such-rule", records[1], "weight", 0, records[0])
    terms = records[1].param("weight").terms
    assert [item.symbol for item in lines[:len(terms)]] == [t.symbol for t in terms]
    assert all(item.substitution == "" for item in lines[:len(terms)])
    assert [item.formula for item in lines[:len(terms)]] == [t.formula for t in terms]


def test_element_of_larger_parameter():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    stepper = Stepper(model, optimizer, torch.nn.MSELoss(),
                      [(torch.randn(4, 3), torch.randn(4, 2))])
    record = stepper.step()
    lines = explain("adam", record, "weight", 4)
    assert line(lines, "g").value == pytest.approx(record.param("weight").grad.reshape(-1)[4].item())


def test_index_out_of_range_rejected(records):
    with pytest.raises(IndexError, match="invalid element index 1 for weight"):
        explain("adam", records[0], "weight", 1)


def test_unknown_parameter_rejected(records):
    with pytest.raises(KeyError, match="no parameter named 'nope'"):
        explain("adam", records[0], "nope", 0)


def test_number_uses_minus_sign():
    assert number(-0.775) == "−0.7750"


def test_number_small_keeps_exponent_hyphen():
    assert number(-1.5e-05) == "−1.5e-05"


def test_operand_wraps_negative():
    assert operand(-3.7) == "(−3.7000)"
    assert operand(0.2025) == "0.2025"
