"""Helpers of the rewind, autoplay and export pilot tests: keys, screen text, records."""

from __future__ import annotations

import re

import torch
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input

from optimstep.core import StepRecord
from optimstep.tui.app import OptimstepApp
from optimstep.tui.panels import AssertionLog, StatusHeader

SIZE = (80, 24)


async def press(pilot: Pilot, *keys: str) -> None:
    """Press `keys`, then wait until every request is done and its messages handled."""
    await pilot.press(*keys)
    await settle(pilot)


async def settle(pilot: Pilot) -> None:
    """Wait until the stepping thread is idle and the app has handled what it posted."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def fill(pilot: Pilot, selector: str, text: str) -> None:
    """Replace the text of the input `selector` on the current screen, then press Enter."""
    field = pilot.app.screen.query_one(selector, Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await press(pilot, "enter")


async def go_to(pilot: Pilot, text: str) -> None:
    """Open the go-to form, enter `text` and submit it."""
    await press(pilot, "g")
    await fill(pilot, "#goto-step", text)


def widget_text(widget: Widget) -> str:
    """Return the text a widget shows, border included, one line per row."""
    width, height = widget.outer_size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join(strip.text.rstrip() for strip in strips)


def header(app: OptimstepApp) -> str:
    """Return the header's text on one line, spaces collapsed."""
    return " ".join(widget_text(app.query_one(StatusHeader)).split())


def step_shown(app: OptimstepApp) -> int:
    """Return the step number in the header."""
    return int(re.search(r"\bstep (\d+)\b", header(app)).group(1))


def log_lines(app: OptimstepApp) -> list[str]:
    """Return the lines of the assertion log."""
    return [strip.text.rstrip() for strip in app.query_one(AssertionLog).lines]


def notifications(app: OptimstepApp) -> list[str]:
    """Return the messages of the notifications shown so far."""
    return [notification.message for notification in app._notifications]


def same_record(a: StepRecord, b: StepRecord) -> bool:
    """Return whether two records hold the same loss, tensors (torch.equal) and checks."""
    return (a.step == b.step and a.loss == b.loss and a.checks == b.checks
            and len(a.params) == len(b.params)
            and all(_same_param(x, y) for x, y in zip(a.params, b.params)))


def _same_param(a, b) -> bool:
    tensors = [(a.before, b.before), (a.after, b.after), (a.grad, b.grad),
               (a.computed_update, b.computed_update)]
    tensors += [(a.state[key], b.state[key]) for key in a.state]
    tensors += [(x.value, y.value) for x, y in zip(a.terms, b.terms)]
    return (a.name == b.name and a.state.keys() == b.state.keys()
            and len(a.terms) == len(b.terms)
            and all(x is None and y is None or torch.equal(x, y) for x, y in tensors))
