"""Offline generators that need no key: a search over torch.compile configurations.

Each proposal is a self-contained candidate file: the problem's own source, followed by a
``ModelNew`` that builds ``Model`` with the same arguments and wraps it in ``torch.compile`` with
one configuration. Configurations that replay CUDA graphs return a copy of the graph's output,
since the graph overwrites it on the next call. TF32 is only tried when the precision policy
allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kernelswarm.search.types import GenerationRequest, GeneratorConfig, Proposal


@dataclass(frozen=True)
class CompileConfig:
    label: str
    mode: str | None
    cuda_only: bool = False
    tf32: bool = False
    copies_output: bool = False  # CUDA-graph modes hand back a buffer the next replay overwrites


CONFIGS = (
    CompileConfig("inductor default", None),
    CompileConfig("max-autotune-no-cudagraphs", "max-autotune-no-cudagraphs"),
    CompileConfig(
        "reduce-overhead (CUDA graphs)", "reduce-overhead", cuda_only=True, copies_output=True
    ),
    CompileConfig("max-autotune (CUDA graphs)", "max-autotune", cuda_only=True, copies_output=True),
    CompileConfig(
        "max-autotune-no-cudagraphs + TF32", "max-autotune-no-cudagraphs", cuda_only=True, tf32=True
    ),
)

_WRAPPER = '''

# ---- kernelswarm builtin generator: torch.compile ({label}) ----
import torch as _ks_torch  # noqa: E402


class ModelNew(_ks_torch.nn.Module):
    """The problem's Model under torch.compile (mode={mode!r}){tf32_doc}."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self.model = Model(*args, **kwargs)
        self.compiled = _ks_torch.compile(self.model, mode={mode!r}, dynamic=False)

    def forward(self, *inputs):
{tf32_lines}        out = self.compiled(*inputs)
        return {result}
'''


def candidate_source(problem_source: str, config: CompileConfig) -> str:
    tf32_lines = ""
    if config.tf32:
        tf32_lines = (
            "        _ks_torch.backends.cuda.matmul.allow_tf32 = True\n"
            "        _ks_torch.backends.cudnn.allow_tf32 = True\n"
        )
    result = (
        "out.clone() if isinstance(out, _ks_torch.Tensor) else out"
        if config.copies_output
        else "out"
    )
    return problem_source.rstrip() + "\n" + _WRAPPER.format(
        label=config.label, mode=config.mode, tf32_lines=tf32_lines, result=result,
        tf32_doc=", TF32 matrix products" if config.tf32 else "",
    )  # fmt: skip


class CompileSearch:
    """Proposes the torch.compile configurations not tried yet, a few per round."""

    def __init__(self, config: GeneratorConfig, context: Any) -> None:
        self.config = config
        self.tried: set[str] = set()

    def applicable(self, request: GenerationRequest) -> list[CompileConfig]:
        return [
            c
            for c in CONFIGS
            if (request.device == "cuda" or not c.cuda_only)
            and (not c.tf32 or request.precision == "tf32")
        ]

    def propose(self, request: GenerationRequest) -> list[Proposal]:
        fresh = [c for c in self.applicable(request) if c.label not in self.tried]
        chosen = fresh[: max(1, self.config.proposals_per_round)]
        self.tried |= {c.label for c in chosen}
        return [
            Proposal(
                generator=self.config.name,
                source=candidate_source(request.problem_source, c),
                label=c.label,
            )
            for c in chosen
        ]
