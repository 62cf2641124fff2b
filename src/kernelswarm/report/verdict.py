"""The verdict on a terminal: what was decided, why, and the evidence, at a glance."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kernelswarm.judge.reasons import CHECKS
from kernelswarm.judge.verdict import Verdict
from kernelswarm.report.timing import render_timing

_STYLE = {"accepted": "bold green", "rejected": "bold red", "error": "bold yellow"}
_HEADLINE = {
    "accepted": "ACCEPTED",
    "rejected": "REJECTED: the candidate is wrong",
    "error": "COULD NOT JUDGE",
}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2g}"


def verdict_line(verdict: Verdict) -> str:
    """The verdict in one line: outcome, reasons, speedups."""
    reasons = "; ".join(r.line(10**6) for r in verdict.reasons)
    speed = "; ".join(f"{n}: {s.summary}" for n, s in (verdict.speedup or {}).items())
    return (
        verdict.verdict.value
        + (f" ({reasons})" if reasons else "")
        + (f" [{speed}]" if speed else "")
    )


def render_verdict(verdict: Verdict, console: Console) -> None:
    head = Text(
        f"{_HEADLINE[verdict.verdict]}  (exit {verdict.exit_code})", style=_STYLE[verdict.verdict]
    )
    sub = (
        f"{verdict.candidate}\nagainst {verdict.problem}\n"
        f"device {verdict.device} · precision {verdict.precision} · {verdict.elapsed_seconds:.1f} s"
    )
    console.print(Panel(Text.assemble(head, "\n", sub), expand=False))

    if verdict.reasons:
        table = Table(title="Why", show_lines=True, title_justify="left")
        table.add_column("check", style="bold")
        table.add_column("what happened")
        table.add_column("where")
        for reason in verdict.reasons:
            where = ", ".join(reason.tests[:4]) + (" …" if len(reason.tests) > 4 else "")
            table.add_row(reason.check.value, Text(reason.detail), where)
        console.print(table)

    if verdict.tests:
        tests = Table(title="Evidence: tests", title_justify="left")
        for col in ("test", "variant", "seed", "strong", "reference's own error"):
            tests.add_column(col)
        for t in verdict.tests:
            if t.skipped:
                strong = f"skipped: {t.skipped}"
            elif t.strong:
                strong = "yes"
            else:
                strong = "weak: " + "; ".join(t.weak_because)
            errors = ", ".join(_fmt(e) for e in t.reference_normwise_error) or "-"
            tests.add_row(t.name, t.variant, str(t.seed), Text(strong), errors)
        console.print(tests)

    if verdict.calls:
        calls = Table(title="Evidence: candidate calls", title_justify="left")
        for col in (
            "call",
            "test",
            "inputs",
            "ok",
            "error / allowed (normwise)",
            "worst element ratio",
        ):
            calls.add_column(col)
        for c in verdict.calls:
            norm = "; ".join(
                f"{_fmt(o.normwise_error)} / {_fmt(o.allowed_normwise)}" for o in c.outputs
            )
            ratio = "; ".join(_fmt(o.worst_ratio) for o in c.outputs)
            calls.add_row(
                str(c.call), c.test, c.inputs, "✓" if c.passed else "✗", norm or "-", ratio or "-"
            )
        console.print(calls)

    if verdict.timing:
        if verdict.verdict != "accepted":
            console.print(
                "[bold red]The times below are evidence of the rejection, not results.[/bold red]"
            )
        render_timing(verdict.timing, console, speedups=verdict.accepted)
    if verdict.weights is not None and verdict.weights.summary:
        console.print(Text.assemble(("weights", "bold"), f": {verdict.weights.summary}"))
    if verdict.checks_passed:
        console.print(
            Text.assemble(("checks passed", "bold"), ": " + ", ".join(verdict.checks_passed))
        )
    for note in verdict.notes:
        console.print(Text(f"note: {note}", style="dim"))
    if verdict.failure_log.strip():
        console.print(
            Panel(
                Text(verdict.failure_log.strip()[-2000:]), title="worker log (tail)", expand=False
            )
        )
    if verdict.phases is not None:
        p = verdict.phases
        console.print(
            Text(
                f"time: starting {p.starting:.1f} s, loading and building {p.loading_and_building:.1f} s, "
                f"reference {p.reference:.1f} s, correctness {p.correctness:.1f} s, timing {p.timing:.1f} s "
                f"(total {p.total:.1f} s)",
                style="dim",
            )
        )
    if verdict.seeds is not None:
        console.print(Text(f"reproduce: {verdict.seeds.reproduce_with}", style="dim"))


def render_checks(console: Console) -> None:
    table = Table(title="The judge's checks")
    table.add_column("check", style="bold")
    table.add_column("passes when")
    for check, meaning in CHECKS.items():
        table.add_row(check.value, meaning)
    console.print(table)
