"""minGPT's tanh GELU fused into one Triton kernel for KernelBench level 1, problem 88.

Used by benchmarks/judge_speed.py: the same file is judged by kernelswarm and by KernelBench's
own evaluator (its Triton backend), at KernelBench's own size (8192 x 8192 float32).
"""

import math

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _gelu_tanh(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    inner = 0.7978845608028654 * (x + 0.044715 * x * x * x)
    # tanh(u) = 1 - 2 / (exp(2u) + 1), exact at both ends in float32
    t = 1.0 - 2.0 / (tl.exp(2.0 * inner) + 1.0)
    tl.store(y_ptr + offs, 0.5 * x * (1.0 + t), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        assert abs(0.7978845608028654 - math.sqrt(2.0 / math.pi)) < 1e-15

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xc = x.contiguous()
        y = torch.empty_like(xc)
        n = xc.numel()
        if n:
            _gelu_tanh[(triton.cdiv(n, 4096),)](xc, y, n, BLOCK=4096, num_warps=8)
        return y
