"""Cross-entropy written out: logsumexp minus the target logit, averaged. Targets stay int64.

kernelswarm-problem: ../problems/cross_entropy.py
kernelswarm-run: => accepted
"""
import torch
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        m = predictions.max(dim=1, keepdim=True).values
        lse = m.squeeze(1) + torch.log(torch.exp(predictions - m).sum(dim=1))
        picked = predictions.gather(1, targets.unsqueeze(1)).squeeze(1)
        return (lse - picked).mean()
