"""Shared pytest set-up: a deterministic hypothesis profile for CI."""

import os

from hypothesis import settings

# CI runs each property test on the same examples every time, so that a run fails only
# for a change in the code; locally, hypothesis draws new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
