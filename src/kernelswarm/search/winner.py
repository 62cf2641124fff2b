"""The file a run leaves behind: the winner with where it came from and what it measured, or,
when no candidate beat both baselines, the best baseline, saying so."""

from __future__ import annotations

import time
from pathlib import Path

from kernelswarm.search.attempts import Attempt, Bar
from kernelswarm.search.builtin import CONFIGS, candidate_source

_EAGER_MODEL_NEW = '''


class ModelNew(Model):
    """The problem's own Model: eager PyTorch was the fastest."""
'''


def write_winner(
    problem: Path,
    out_dir: Path,
    winner: Attempt | None,
    bar: Bar,
    policy: str,
    device: str,
    attempts: int,
    evidence: str,
) -> tuple[Path, str | None]:
    """Write ``<problem>_winner.py``; returns its path and the baseline written, if any."""
    path = out_dir / f"{problem.stem}_winner.py"
    stamp = time.strftime("%Y-%m-%d %H:%M")
    if winner is not None and winner.candidate_path:
        header = [
            f"kernelswarm winner for {problem.name}, {stamp}",
            f"origin: generator {winner.generator!r}, round {winner.round}"
            + (f", {winner.label}" if winner.label else ""),
            f"judged: accepted under the {policy} policy on {device} ({bar.device_name})",
        ]
        e, c = winner.speedup_eager, winner.speedup_compile
        if e is not None and c is not None:
            header.append(
                f"speedup: {e.median:.3g}x over eager (95% {e.low:.3g}-{e.high:.3g}), "
                f"{c.median:.3g}x over torch.compile (95% {c.low:.3g}-{c.high:.3g})"
            )
        if winner.seconds:
            sol = (
                f", {100 * winner.sol_fraction:.0f}% of the speed of light"
                if winner.sol_fraction
                else ""
            )
            header.append(f"time: {winner.seconds * 1e3:.4g} ms per call{sol}")
        header.append(f"evidence: {evidence}, candidate {winner.candidate_id}")
        body = Path(winner.candidate_path).read_text()
        fallback = None
    else:
        baselines = bar.baselines
        fallback = (
            "compile" if baselines.get("compile", 1e9) < baselines.get("eager", 1e9) else "eager"
        )
        header = [
            f"kernelswarm result for {problem.name}, {stamp}: no faster kernel found",
            "no candidate was faster than both eager and torch.compile with 95% confidence "
            f"({attempts} attempts)",
            f"this file is the best baseline, {'torch.compile' if fallback == 'compile' else 'eager PyTorch'}",
            f"evidence: {evidence}",
        ]
        source = problem.read_text()
        if fallback == "compile":
            body = candidate_source(source, CONFIGS[0])
        else:
            body = source.rstrip() + _EAGER_MODEL_NEW
    path.write_text("".join(f"# {line}\n" for line in header) + "\n" + body)
    return path, fallback
