"""Poisoning freed memory before each candidate call, so that unwritten outputs show.

A kernel that returns ``torch.empty(...)`` without writing it hands back whatever the allocator
had: on a GPU, often the previous output of the same shape, which holds the right answer. Every
byte the allocator could give back is filled with 0xFF first: NaN in every floating format, -1
in every integer one.

On CUDA the caching allocator's free blocks are read from ``torch.cuda.memory_snapshot()`` and
requested again at their exact sizes (the allocator is best-fit, so each request takes a free
block of that size), filled, and released: they return to the cache poisoned. On the CPU there
is no cache to walk; buffers of the sizes the outputs will have are filled and freed, so that a
fresh allocation of that size most likely lands on poisoned memory.

Used by the workers before each call and by the judge's processes for what they give back to
the driver (``release_poisoned``): standard library and torch only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

_SMALL_REQUEST = (
    1 << 20
)  # the CUDA caching allocator serves requests up to 1 MiB from its small pool
POISON_BYTE = 0xFF


@dataclass
class PoisonReport:
    free_bytes: int = 0
    poisoned_bytes: int = 0
    #: bytes taken for the outputs' sizes and given back to be poisoned (CUDA)
    reserved_bytes: int = 0


def _cuda_free_blocks(device: torch.device) -> list[tuple[int, str]]:
    stream = torch.cuda.current_stream(device).cuda_stream
    index = device.index if device.index is not None else torch.cuda.current_device()
    blocks = []
    for segment in torch.cuda.memory_snapshot():
        if segment.get("device") != index or segment.get("stream", 0) != stream:
            continue
        for block in segment.get("blocks", []):
            if block.get("state") == "inactive":
                blocks.append((int(block["size"]), str(segment.get("segment_type", "large"))))
    return blocks


def poison_cuda(device: torch.device, output_nbytes: list[int] | None = None) -> PoisonReport:
    """Every free block of the caching allocator on the current stream filled with 0xFF.

    ``output_nbytes``: blocks of the outputs' sizes are taken first (from the driver where the
    cache has none) and given back, so that they are among those filled: an output whose
    memory the cache could not give would come straight from the driver, holding whatever was
    last written there, by this process or another. On an H100, ``cheats/cuda/side_stream.py``
    (an output written on a side stream, returned unfinished) was accepted once the candidate's
    inputs were no longer copied on its GPU: the copies' freed blocks had been where its outputs
    came from, and without them the outputs came fresh, likely onto memory the judge had just
    given back holding the answer (reference outputs of the same test, of the same size).
    """
    report = PoisonReport()
    taken = []
    for n in output_nbytes or []:
        try:
            taken.append(torch.empty(max(n, 1), dtype=torch.uint8, device=device))
        except torch.OutOfMemoryError:
            break  # the device is full: what the cache holds is poisoned, as before
        report.reserved_bytes += n
    del taken
    held = []
    for size, pool in sorted(_cuda_free_blocks(device), reverse=True):
        report.free_bytes += size
        if pool == "small":
            pieces = [_SMALL_REQUEST] * (size // _SMALL_REQUEST)
            if size % _SMALL_REQUEST:
                pieces.append(size % _SMALL_REQUEST)
        elif size > _SMALL_REQUEST:
            pieces = [size]
        else:
            # A remainder under 1 MiB in the large pool serves only requests over 1 MiB,
            # which it cannot hold: no allocation can be handed this block.
            report.poisoned_bytes += size
            continue
        for piece in pieces:
            buf = torch.empty(piece, dtype=torch.uint8, device=device)
            buf.fill_(POISON_BYTE)
            held.append(buf)
            report.poisoned_bytes += piece
    del held
    return report


def release_poisoned() -> PoisonReport | None:
    """This process's cached GPU memory filled with 0xFF, then given back to the driver.

    What a process gives back, the driver may hand to another process as it was left: a
    reference's working-precision answers, or the judge's copy of them, would then be what a
    candidate's output holds before it is written, when an output (or a temporary taking the
    poisoned blocks first) comes fresh from the driver. The judge and the reference worker give
    back their memory this way; the fill runs at the device's bandwidth (milliseconds for GiB).
    Every GPU this process holds memory on. None where CUDA was never used here.
    """
    if not torch.cuda.is_initialized():
        return None
    report = PoisonReport()
    for index in range(torch.cuda.device_count()):
        if torch.cuda.memory_reserved(index) == 0:
            continue
        device = torch.device("cuda", index)
        with torch.cuda.device(device):
            filled = poison_free_memory(device, [])
        report.free_bytes += filled.free_bytes
        report.poisoned_bytes += filled.poisoned_bytes
    torch.cuda.empty_cache()
    return report


def poison_host(output_nbytes: list[int], copies: int = 4) -> PoisonReport:
    report = PoisonReport()
    held = []
    for nbytes in output_nbytes:
        for _ in range(copies):
            buf = torch.empty(max(nbytes, 1), dtype=torch.uint8)
            buf.fill_(POISON_BYTE)
            held.append(buf)
            report.poisoned_bytes += nbytes
    report.free_bytes = report.poisoned_bytes
    del held
    return report


def poison_free_memory(device: torch.device, output_nbytes: list[int]) -> PoisonReport:
    """Fill what the next allocations could receive with 0xFF bytes."""
    if device.type == "cuda":
        report = poison_cuda(device, output_nbytes)
        torch.cuda.synchronize(device)
        return report
    return poison_host(output_nbytes)
