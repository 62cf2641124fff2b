import torch
import torch.nn as nn


class Model(nn.Module):
    """Mean cross-entropy of logits against int64 class targets (kept int64, unlike KernelBench)."""

    def __init__(self):
        super().__init__()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.cross_entropy(logits, targets)


batch = 65536
classes = 8192  # 2 GiB of logits

KERNELSWARM_CPU_SIZES = {"batch": 256, "classes": 1000}


def get_inputs():
    return [torch.randn(batch, classes) * 2, torch.randint(0, classes, (batch,))]


def get_init_inputs():
    return []
