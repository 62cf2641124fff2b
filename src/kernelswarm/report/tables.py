"""Tables of many results: a suite's baselines and scoreboard, lint findings, a swarm's
attempts, the selftest catalogue. User text (file names, details) is never read as markup."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kernelswarm.catalog import RunOutcome
from kernelswarm.lint import LintResult
from kernelswarm.report.timing import seconds_text
from kernelswarm.search.attempts import OptimizeResult
from kernelswarm.suite import FAST_P, LevelSummary, SuiteEntry


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col)
    return table


def render_suite(
    entries: list[SuiteEntry], summaries: list[LevelSummary], console: Console
) -> None:
    """Per-problem baselines, then the per-level table of correctness, fast_p and speedups."""
    measured = [e for e in entries if e.measured is not None]
    if measured:
        table = _table(
            "Baselines",
            ("problem", "eager", "torch.compile", "compile time", "floor", "eager % SOL", "notes"),
        )
        for e in measured:
            assert e.measured is not None
            impls = e.measured.timing.implementations
            eager, comp = impls.get("eager"), impls.get("compile")
            floor = e.measured.timing.floor
            table.add_row(
                f"{e.problem.level}/{e.problem.name}" if e.problem.level else e.problem.name,
                seconds_text(eager.median if eager else None),
                seconds_text(comp.median if comp else None),
                "-"
                if comp is None or comp.compile_seconds is None
                else f"{comp.compile_seconds:.1f} s",
                seconds_text(floor.seconds if floor else None),
                "-"
                if eager is None or eager.sol_fraction is None
                else f"{100 * eager.sol_fraction:.3g}%",
                Text("; ".join(e.reasons)[:120]),
            )
        console.print(table)
    for e in entries:
        if e.outcome == "error" and e.candidate is None:
            console.print(
                Text(
                    f"{e.problem.name}: could not measure: {'; '.join(e.reasons)[:300]}",
                    style="yellow",
                )
            )
    if not any(e.candidate is not None or e.outcome == "missing" for e in entries):
        return
    ps = [f"{p:g}" for p in FAST_P]
    table = _table(
        "Solutions",
        ["level", "problems", "with solution", "correct", *(f"fast_{p} eager/compile" for p in ps),
         "geomean eager", "geomean compile", "kernelbench rule wrongly accepts"],
    )  # fmt: skip
    for s in summaries:
        table.add_row(
            s.level, str(s.problems), str(s.attempted), str(s.correct),
            *(f"{s.fast_p_eager[p]:.2f} / {s.fast_p_compile[p]:.2f}" for p in ps),
            "-" if s.geomean_eager is None else f"{s.geomean_eager:.3g}x",
            "-" if s.geomean_compile is None else f"{s.geomean_compile:.3g}x",
            "-" if s.kernelbench_wrongly_accepted is None else str(s.kernelbench_wrongly_accepted),
        )  # fmt: skip
    console.print(table)


def suite_line(entry: SuiteEntry, done: int, total: int) -> Text:
    """One finished problem of a suite, as it arrives."""
    speed = ""
    if entry.speedup_eager is not None:
        speed = f" {entry.speedup_eager:.3g}x eager, {entry.speedup_compile or float('nan'):.3g}x compile"
    why = f" ({entry.reasons[0][:140]})" if entry.reasons and entry.outcome != "accepted" else ""
    name = f"{entry.problem.level}/{entry.problem.name}"
    return Text(f"[{done}/{total}] {name}: {entry.outcome}{speed}{why}")


def render_lint(results: list[LintResult], console: Console) -> None:
    with_findings = [r for r in results if r.findings]
    table = _table(
        f"lint: {len(results)} problems, {len(with_findings)} with findings",
        ("problem", "findings", "checked at", "H100 floor"),
    )
    # every problem, those with findings first: one left out of the table reads as not checked
    for r in sorted(results, key=lambda r: not r.findings):  # stable: the order otherwise kept
        table.add_row(
            Text(Path(r.problem).name),
            Text("\n".join(f"{f.kind}: {f.detail}" for f in r.findings) or "none"),
            " ".join(r.checked_at) or "default",
            seconds_text(r.default_floor_h100_seconds),
        )
    console.print(table)


def render_attempts(result: OptimizeResult, console: Console) -> None:
    """Every attempt of a swarm run, then the baselines and the outcome."""
    table = _table(
        f"{len(result.attempts)} attempts ({result.stopped_because})",
        ("round", "generator", "what", "verdict", "time", "vs eager", "vs compile", "% SOL", "why"),
    )
    for a in result.attempts:
        table.add_row(
            str(a.round), a.generator,
            Text(a.label or (Path(a.candidate_path).name if a.candidate_path else "-")), a.verdict,
            "-" if a.seconds is None else f"{a.seconds * 1e3:.4g} ms",
            "-" if a.speedup_eager is None else f"{a.speedup_eager.median:.3g}x",
            "-" if a.speedup_compile is None else f"{a.speedup_compile.median:.3g}x",
            "-" if a.sol_fraction is None else f"{100 * a.sol_fraction:.3g}%",
            Text(a.reasons[0][:100] if a.reasons else ""),
        )  # fmt: skip
    console.print(table)
    base = ", ".join(f"{k} {v * 1e3:.4g} ms" for k, v in result.baselines.items())
    console.print(
        f"baselines timed at the run's start: {base} (each attempt's 'vs' columns compare it with "
        "the baselines timed beside it, in its own check); "
        f"tokens {result.tokens}, cost ${result.dollars:.4f}, {result.elapsed_seconds:.0f} s",
        markup=False,
    )
    if result.winner is not None:
        console.print(
            Text.assemble(
                ("winner", "bold green"),
                f": {result.winner_path} ({result.winner.speedup_over_best_baseline:.3g}x over the faster baseline)",
            )
        )
    else:
        console.print(
            Text.assemble(
                ("no faster kernel found", "bold yellow"),
                f": {result.winner_path} is the best baseline ({result.fallback})",
            )
        )


def render_selftest(outcomes: list[RunOutcome], device: str, console: Console) -> None:
    table = _table(
        f"kernelswarm selftest on {device}", ("example", "expected", "got", "ok", "reasons")
    )
    for outcome in outcomes:
        run = outcome.run
        expected = run.verdict + (f" ({'|'.join(run.checks)})" if run.checks else "")
        table.add_row(
            Text(run.label),
            expected,
            outcome.verdict,
            "✓" if outcome.ok else "✗",
            Text(outcome.detail[:200]),
        )
    console.print(table)
