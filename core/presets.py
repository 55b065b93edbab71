"""Built-in scenarios by name."""

from __future__ import annotations

from .scenario import Scenario

PRESETS: dict[str, Scenario] = {
    "linear": Scenario(),
}
"""Built-in scenarios; `linear` is the default scenario."""

DEFAULT_PRESET = "linear"


def preset(name: str = DEFAULT_PRESET) -> Scenario:
    """Return the built-in scenario called `name`."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset: {name!r} (expected one of "
                         f"{', '.join(PRESETS)})") from None
