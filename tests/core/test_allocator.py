"""Tests of the malloc settings that `optimstep check` applies to its own process."""

import platform

import pytest
import torch

from optimstep.core.allocator import keep_freed_memory

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="the settings exist in glibc's malloc only")
def test_keep_freed_memory_applies_on_glibc():
    assert keep_freed_memory() is True
    # Allocations of every size still work after the change.
    for numel in (1, 2**20, 10 * 2**20):
        assert torch.ones(numel).sum().item() == numel


@pytest.mark.skipif(GLIBC, reason="on glibc the settings apply")
def test_keep_freed_memory_does_nothing_elsewhere():
    assert keep_freed_memory() is False
