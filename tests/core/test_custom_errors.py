"""User code that raises inside Stepper.step(): UserCodeError, and the last good state kept."""

import pytest
import torch

from optimstep.core import Stepper, UserCodeError, preset


class Switch:
    """Raises on the steps it is armed for, counting calls from 1."""

    def __init__(self, *steps):
        self.steps = set(steps)
        self.calls = 0

    def __call__(self, where):
        self.calls += 1
        if self.calls in self.steps:
            raise ValueError(f"planted failure in {where}\nsecond line")


class FailingForward(torch.nn.Linear):
    def __init__(self, switch):
        super().__init__(1, 1)
        self.switch = switch

    def forward(self, x):
        self.switch("forward")
        return super().forward(x)


class FailingBackward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, switch):
        ctx.switch = switch
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        ctx.switch("backward")
        return grad, None


class HalfwayAdam(torch.optim.Adam):
    """Adam that, when armed, zeroes the first parameter and its moments before raising."""

    def __init__(self, params, switch, **defaults):
        super().__init__(params, **defaults)
        self.switch = switch

    @torch.no_grad()
    def step(self, closure=None):
        first = self.param_groups[0]["params"][0]
        try:
            self.switch("step")
        except ValueError:
            first.zero_()
            for value in self.state[first].values():
                value.zero_()
            self.param_groups[0]["lr"] = 123.0
            raise
        return super().step(closure)


def default_objects(model=None):
    model = model or torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(-0.5)
        model.bias.fill_(1.0)
    built = preset().build()
    return model, built.loss_fn, built.batches


def adam(model, switch=None):
    kwargs = {"lr": 0.1, "betas": (0.9, 0.99), "eps": 1e-8}
    if switch is None:
        return torch.optim.Adam(model.parameters(), **kwargs)
    return HalfwayAdam(model.parameters(), switch, **kwargs)


def clean_records(steps):
    return Stepper.from_scenario(preset()).run(steps)


def forward_stepper(switch):
    model, loss_fn, batches = default_objects(FailingForward(switch))
    return Stepper(model, adam(model), loss_fn, batches)


def loss_stepper(switch):
    model, loss_fn, batches = default_objects()

    def failing_loss(output, target):
        switch("loss")
        return loss_fn(output, target)

    return Stepper(model, adam(model), failing_loss, batches)


def backward_stepper(switch):
    model, loss_fn, batches = default_objects()

    def loss_with_failing_backward(output, target):
        return loss_fn(FailingBackward.apply(output, switch), target)

    return Stepper(model, adam(model), loss_with_failing_backward, batches)


def step_stepper(switch):
    model, loss_fn, batches = default_objects()
    return Stepper(model, adam(model, switch), loss_fn, batches)


PHASES = {"forward": forward_stepper, "loss": loss_stepper, "backward": backward_stepper,
          "step": step_stepper}


def fail_at_step_three(phase):
    stepper = PHASES[phase](Switch(3))
    stepper.run(2)
    with pytest.raises(UserCodeError) as caught:
        stepper.step()
    return stepper, caught.value


@pytest.mark.parametrize("phase", PHASES)
def test_error_names_step_and_phase(phase):
    _, error = fail_at_step_three(phase)
    assert (error.step, error.phase) == (3, phase)


@pytest.mark.parametrize("phase", PHASES)
def test_error_message_is_one_line(phase):
    _, error = fail_at_step_three(phase)
    assert str(error) == (f"step 3: {phase} raised ValueError: planted failure in {phase} "
                          f"second line")


@pytest.mark.parametrize("phase", PHASES)
def test_error_keeps_original_exception(phase):
    _, error = fail_at_step_three(phase)
    assert error.__cause__ is error.error


@pytest.mark.parametrize("phase", PHASES)
def test_step_count_unchanged_after_failure(phase):
    stepper, _ = fail_at_step_three(phase)
    assert stepper.step_count == 2


@pytest.mark.parametrize("phase", PHASES)
def test_parameters_restored_after_failure(phase):
    stepper, _ = fail_at_step_three(phase)
    expected = clean_records(2)[-1].param("weight").after
    assert torch.equal(stepper.model.weight.detach(), expected)


@pytest.mark.parametrize("phase", PHASES)
def test_optimizer_state_restored_after_failure(phase):
    stepper, _ = fail_at_step_three(phase)
    expected = clean_records(2)[-1].param("weight").state["exp_avg"]
    assert torch.equal(stepper.optimizer.state[stepper.model.weight]["exp_avg"], expected)


def test_param_group_restored_after_failed_step():
    stepper, _ = fail_at_step_three("step")
    assert stepper.optimizer.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("phase", PHASES)
def test_retry_matches_clean_run(phase):
    stepper, _ = fail_at_step_three(phase)
    retried = stepper.run(2)
    clean = clean_records(4)
    assert [r.step for r in retried] == [3, 4]
    assert torch.equal(retried[-1].param("weight").after, clean[-1].param("weight").after)


@pytest.mark.parametrize("phase", PHASES)
def test_retry_passes_every_check(phase):
    stepper, _ = fail_at_step_three(phase)
    assert all(record.passed for record in stepper.run(3))


def test_failure_at_first_step_leaves_no_state():
    stepper = step_stepper(Switch(1))
    with pytest.raises(UserCodeError):
        stepper.step()
    assert len(stepper.optimizer.state) == 0


class NormalisedModel(torch.nn.Module):
    """BatchNorm then a layer that raises when armed: the running mean moves first."""

    def __init__(self, switch):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(1)
        self.linear = torch.nn.Linear(1, 1)
        self.switch = switch

    def forward(self, x):
        x = self.norm(x)
        self.switch("forward")
        return self.linear(x)


def test_buffers_restored_after_failed_forward():
    model = NormalisedModel(Switch(2))
    _, loss_fn, batches = default_objects()
    stepper = Stepper(model, adam(model), loss_fn, batches)
    stepper.step()
    running_mean = model.norm.running_mean.clone()
    with pytest.raises(UserCodeError):
        stepper.step()
    assert torch.equal(model.norm.running_mean, running_mean)


def test_rng_restored_after_failed_forward():
    switch = Switch(2)

    class Noisy(FailingForward):
        def forward(self, x):
            x = x + torch.rand_like(x)
            return super().forward(x)

    model, loss_fn, batches = default_objects(Noisy(switch))
    stepper = Stepper(model, adam(model), loss_fn, batches)
    stepper.step()
    state = torch.get_rng_state()
    with pytest.raises(UserCodeError):
        stepper.step()
    assert torch.equal(torch.get_rng_state(), state)
