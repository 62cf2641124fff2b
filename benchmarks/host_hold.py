"""How fast a GPU tensor of GiB reaches host memory, four ways (issue 11: on an H100 the tests
of KernelBench's L1/19 are held on the host, 22 s a test).

    python3 benchmarks/host_hold.py [GIB ...]        # on the GPU machine; default 1 6

Ways: ``.cpu()`` (pageable, fresh pages faulted one by one during the copy); into pages faulted
first by a parallel fill (``torch.empty`` + ``zero_``, torch's threads); into pinned memory
(``pin_memory=True``, its allocation timed with it); and a second copy into the same pageable
tensor (the pages already there: the copy alone). One JSON line per size and way.
"""

from __future__ import annotations

import json
import sys
import time

import torch


def _timed(fn) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def _ways(gib: float) -> dict[str, float]:
    n = int(gib * 2**30) // 8
    x = torch.randn(n, dtype=torch.float64, device="cuda")
    ways = {}
    kept: list[torch.Tensor] = []
    ways["cpu()"] = _timed(lambda: kept.append(x.cpu()))
    kept.clear()

    def prefaulted() -> None:
        host = torch.empty(n, dtype=torch.float64)
        host.zero_()
        host.copy_(x)
        kept.append(host)

    ways["prefaulted, then copy_"] = _timed(prefaulted)
    ways["copy_ into pages already there"] = _timed(lambda: kept[0].copy_(x))
    kept.clear()

    def pinned() -> None:
        host = torch.empty(n, dtype=torch.float64, pin_memory=True)
        host.copy_(x, non_blocking=True)
        kept.append(host)

    ways["pinned (allocation included)"] = _timed(pinned)
    assert torch.equal(kept[0][:1000].cuda(), x[:1000])
    return ways


def main(sizes: list[float]) -> None:
    if not torch.cuda.is_available():
        raise SystemExit("host_hold.py needs a CUDA GPU")
    for gib in sizes:
        for way, seconds in _ways(gib).items():
            print(json.dumps({"GiB": gib, "way": way, "s": round(seconds, 3),
                              "GB/s": round(gib * 2**30 / seconds / 1e9, 2)}), flush=True)  # fmt: skip
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [1.0, 6.0])
