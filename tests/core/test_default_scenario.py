"""The default scenario against ORIGIN's known values and against a plain torch loop."""

import pytest
import torch

from optimstep.core import Stepper, preset
from optimstep.core.rules.adam import Adam

# (step, loss, grad w, grad b, m_w, v_w, w after, b after) from the default scenario's
# known values on torch 2.13.0, CPU, float32 (m and v after the step).
KNOWN = [
    (1, 2.1250, -4.5000, -2.5000, -0.4500, 0.2025, -0.400000, 1.100000),
    (2, 1.4900, -3.7000, -2.0000, -0.7750, 0.3374, -0.300935, 1.198862),
    (3, 0.9894, -2.9081, -1.5051, -0.9883, 0.4186, -0.203790, 1.295311),
    (101, 0.0023, 0.0012, 0.0311, -0.0277, 0.2849, 0.913222, 0.144685),
]


@pytest.fixture(scope="module")
def records():
    return Stepper.from_scenario(preset("linear")).run(101)


@pytest.mark.parametrize("row", KNOWN, ids=lambda row: f"step{row[0]}")
def test_known_values(records, row):
    step, loss, grad_w, grad_b, m_w, v_w, w_after, b_after = row
    record = records[step - 1]
    weight, bias = record.param("weight"), record.param("bias")
    assert record.step == step
    assert record.loss == pytest.approx(loss, abs=5e-5)
    assert weight.grad.item() == pytest.approx(grad_w, abs=5e-5)
    assert bias.grad.item() == pytest.approx(grad_b, abs=5e-5)
    assert weight.state["exp_avg"].item() == pytest.approx(m_w, abs=5e-5)
    assert weight.state["exp_avg_sq"].item() == pytest.approx(v_w, abs=5e-5)
    assert weight.after.item() == pytest.approx(w_after, abs=5e-7)
    assert bias.after.item() == pytest.approx(b_after, abs=5e-7)


def test_every_step_passes(records):
    assert [r.step for r in records if not r.passed] == []


def test_torch_order_matches_to_the_bit(records):
    assert max(check.max_ulp for r in records for check in r.checks) == 0


def test_checks_cover_param_and_state_in_both_modes(records):
    names = {(c.name, c.mode) for c in records[0].checks}
    expected = {(f"{p}.{k}", mode) for p in ("weight", "bias")
                for k in ("param", "step", "exp_avg", "exp_avg_sq") for mode in ("single", "carried")}
    assert names == expected


def test_adam_terms_in_formula_order(records):
    names = [term.name for term in records[0].param("weight").terms]
    assert names == ["g", "m", "v", "m_hat", "v_hat", "denom", "step_size", "update"]


def test_records_match_plain_torch_loop(records):
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(-0.5)
        model.bias.fill_(1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    x = torch.tensor([[1.0], [2.0]])
    for record in records:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), x).backward()
        optimizer.step()
        assert torch.equal(record.param("weight").after, model.weight.detach())


def test_reset_returns_to_step_zero():
    stepper = Stepper.from_scenario(preset())
    first = stepper.run(3)
    stepper.reset()
    again = stepper.run(3)
    assert stepper.step_count == 3
    assert torch.equal(first[2].param("weight").after, again[2].param("weight").after)


def test_record_is_frozen(records):
    with pytest.raises(AttributeError):
        records[0].step = 5


class NoFirstMomentCorrection(Adam):
    """Adam that forgets the first moment's bias correction, to prove the checks catch it."""

    def step(self, param, grad, state, group):
        output = super().step(param, grad, state, group)
        beta1 = group["betas"][0]
        # The right step size is lr / (1 - beta1^t); this rule steps with lr alone.
        wrong = param + (output.param - param) * (1 - beta1 ** output.state["step"].item())
        return type(output)(output.terms, output.state, wrong, wrong - param)


def make_wrong_stepper():
    built = preset().build()
    return Stepper(built.model, built.optimizer, built.loss_fn, built.batches,
                   rule=NoFirstMomentCorrection())


def test_wrong_rule_fails_at_step_one():
    record = make_wrong_stepper().step()
    assert {check.name for check in record.failures} == {"weight.param", "bias.param"}


def test_wrong_rule_error_size():
    check = next(c for c in make_wrong_stepper().step().checks if c.name == "weight.param")
    # Step 1 moves by lr * (1 - beta1) = 0.01 instead of lr = 0.1.
    assert check.max_abs_error == pytest.approx(0.09, rel=1e-5)
