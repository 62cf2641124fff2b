"""Its own parameter names (nothing shared), initialised exactly as nn.Linear does, in the same
order: under the same seed it holds the same weights, so it is judged on its own initialisation.

kernelswarm-problem: ../problems/linear_gelu.py
kernelswarm-run: => accepted
kernelswarm-run: --weights seed => accepted
"""
import math

import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.w = nn.Parameter(torch.empty(out_features, in_features))
        self.b = nn.Parameter(torch.empty(out_features))
        nn.init.kaiming_uniform_(self.w, a=math.sqrt(5))
        bound = 1 / math.sqrt(in_features)
        nn.init.uniform_(self.b, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.gelu(x @ self.w.t() + self.b)
