"""The judge's own GPU memory, kept returnable: the GPU is shared with two other processes.

The reference and the candidate run in their own processes on the judge's GPU. Memory the
judge frees stays in PyTorch's cache unless given back, and a cached block that was split to
serve a smaller request can never be given back while any part of it is in use. At
KernelBench's sizes both cost whole tests: on the H200, L1/19 at 4096×393216 had 24 GiB of
split blocks cached beside 72 GiB of tests, and the candidate ran out of memory.
"""

from __future__ import annotations

import functools

import torch

from kernelswarm.poison import release_poisoned

#: blocks larger than this are never split (PyTorch's ``max_split_size_mb``): a freed test's
#: tensor stays one block, which ``give_back`` can return
MAX_SPLIT_MIB = 32


@functools.cache
def keep_returnable() -> str:
    """Tell this process's CUDA allocator not to split large blocks (once, before the judge
    holds tests on a GPU). Returns what was done, for the record."""
    setting = f"max_split_size_mb:{MAX_SPLIT_MIB}"
    set_settings = getattr(torch._C, "_accelerator_setAllocatorSettings", None)
    if set_settings is None:  # older PyTorch: the same call under torch.cuda.memory
        set_settings = getattr(torch.cuda.memory, "_set_allocator_settings", None)
    if set_settings is None:
        return "large blocks may be split (this PyTorch cannot change its allocator's settings)"
    set_settings(setting)
    return setting


def give_back() -> None:
    """The judge's freed GPU memory returned to the driver, for the other two processes, filled
    with 0xFF first (it held answers: ``release_poisoned``)."""
    release_poisoned()
