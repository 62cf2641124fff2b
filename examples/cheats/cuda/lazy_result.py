"""Returns a CUDA Tensor subclass that runs the matmul only when its data is touched.

kernelswarm-problem: ../../problems/matmul.py
kernelswarm-device: cuda
kernelswarm-run: --set N=2048 => rejected type
"""
import torch
import torch.nn as nn


class Lazy(torch.Tensor):
    @staticmethod
    def __new__(cls, A, B):
        out = torch.Tensor._make_wrapper_subclass(cls, (A.shape[0], B.shape[1]), dtype=A.dtype, device=A.device)
        out.A, out.B = A, B
        return out

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        def real(x):
            return torch.matmul(x.A, x.B) if isinstance(x, Lazy) else x

        args = torch.utils._pytree.tree_map(real, args)
        kwargs = torch.utils._pytree.tree_map(real, kwargs or {})
        return func(*args, **kwargs)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        return Lazy(A, B)
