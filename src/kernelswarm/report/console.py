"""The verdict on a terminal: what was decided, why, and the evidence, at a glance."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kernelswarm.verdict import CHECKS, Verdict

_STYLE = {"accepted": "bold green", "rejected": "bold red", "error": "bold yellow"}
_HEADLINE = {
    "accepted": "ACCEPTED",
    "rejected": "REJECTED: the candidate is wrong",
    "error": "COULD NOT JUDGE",
}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2g}"


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
            table.add_row(reason.check, reason.detail, where)
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
            tests.add_row(t.name, t.variant, str(t.seed), strong, errors)
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
        render_timing(verdict.timing, console, speedups=verdict.verdict == "accepted")
    if verdict.weights.get("summary"):
        console.print(f"[bold]weights[/bold]: {verdict.weights['summary']}")
    if verdict.checks_passed:
        console.print("[bold]checks passed[/bold]: " + ", ".join(verdict.checks_passed))
    for note in verdict.notes:
        console.print(f"[dim]note: {note}[/dim]")
    if verdict.failure_log.strip():
        console.print(
            Panel(verdict.failure_log.strip()[-2000:], title="worker log (tail)", expand=False)
        )
    console.print(f"[dim]reproduce: {verdict.seeds.get('reproduce_with', '')}[/dim]")


def render_checks(console: Console) -> None:
    table = Table(title="The judge's checks")
    table.add_column("check", style="bold")
    table.add_column("passes when")
    for name, meaning in CHECKS.items():
        table.add_row(name, meaning)
    console.print(table)


def _us(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "-"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def render_timing(timing: dict, console: Console, speedups: bool = True) -> None:
    """Times, intervals, % of speed of light, speedups and warnings of one measurement."""
    table = Table(
        title=f"Timing on {timing['device']} ({timing['sets']} input sets rotated)",
        title_justify="left",
    )
    for col in ("implementation", "median", "95% interval", "samples", "% speed of light", "notes"):
        table.add_column(col)
    for name, t in timing["implementations"].items():
        notes = []
        if t.get("compile_seconds") is not None:
            notes.append(f"compile {t['compile_seconds']:.1f} s")
        if t.get("first_visit_median") and t.get("repeat_median"):
            notes.append(
                f"new inputs {_us(t['first_visit_median'])} / seen {_us(t['repeat_median'])}"
            )
        sol = t.get("sol_fraction")
        table.add_row(
            name,
            _us(t["median"]),
            f"{_us(t['low'])} – {_us(t['high'])} (±{100 * t['rel_halfwidth']:.2g}%)",
            str(t["samples"]),
            "-" if sol is None else f"{100 * sol:.3g}%",
            "; ".join(notes),
        )
    console.print(table)
    floor = timing.get("floor")
    if floor:
        console.print(
            f"[bold]speed of light[/bold]: {floor['flops'] / 1e9:.4g} GFLOP (+{floor['other_flops'] / 1e9:.3g} other), "
            f"{floor['bytes'] / 2**20:.4g} MiB → floor {_us(floor['seconds'])} ({floor['bound']}-bound; "
            f"{floor['rate_name']} {floor['rate'] / 1e12:.3g} TFLOP/s, {floor['bandwidth'] / 1e9:.4g} GB/s measured)"
        )
    for name, s in timing.get("speedups", {}).items() if speedups else ():
        console.print(f"[bold]speedup over {name}[/bold]: {s['summary']}")
    for warning in timing.get("warnings", []):
        console.print(f"[yellow]warning: {warning}[/yellow]")


def render_suite(entries: list, summaries: list, console: Console) -> None:
    """Per-problem lines, then the per-level table of correctness, fast_p and speedups."""
    measured = [e for e in entries if e.verdict == "measured"]
    if measured:
        table = Table(title="Baselines", title_justify="left")
        for col in (
            "problem",
            "eager",
            "torch.compile",
            "compile time",
            "floor",
            "eager % SOL",
            "notes",
        ):
            table.add_column(col)
        for e in measured:
            impls = e.timing["implementations"]
            eager, comp = impls.get("eager", {}), impls.get("compile", {})
            floor = (e.timing.get("floor") or {}).get("seconds")
            sol = eager.get("sol_fraction")
            table.add_row(
                f"{e.problem.level}/{e.problem.name}" if e.problem.level else e.problem.name,
                _us(eager.get("median")),
                _us(comp.get("median")),
                "-" if comp.get("compile_seconds") is None else f"{comp['compile_seconds']:.1f} s",
                _us(floor),
                "-" if sol is None else f"{100 * sol:.3g}%",
                "; ".join(e.reasons)[:120],
            )
        console.print(table)
    errors = [e for e in entries if e.verdict == "error" and e.candidate is None]
    for e in errors:
        console.print(
            f"[yellow]{e.problem.name}: could not measure: {'; '.join(e.reasons)[:300]}[/yellow]"
        )
    if not any(e.candidate is not None for e in entries) and not any(
        e.verdict == "missing" for e in entries
    ):
        return
    table = Table(title="Solutions", title_justify="left")
    cols = ["level", "problems", "with solution", "correct"]
    cols += [f"fast_{p} eager/compile" for p in ("0", "0.5", "0.8", "1", "1.5", "2")]
    cols += ["geomean eager", "geomean compile", "kernelbench rule wrongly accepts"]
    for col in cols:
        table.add_column(col)
    for s in summaries:
        row = [s.level, str(s.problems), str(s.attempted), str(s.correct)]
        row += [
            f"{s.fast_p_eager[p]:.2f} / {s.fast_p_compile[p]:.2f}"
            for p in ("0", "0.5", "0.8", "1", "1.5", "2")
        ]
        row += [
            "-" if s.geomean_eager is None else f"{s.geomean_eager:.3g}x",
            "-" if s.geomean_compile is None else f"{s.geomean_compile:.3g}x",
            "-" if s.kernelbench_wrongly_accepted is None else str(s.kernelbench_wrongly_accepted),
        ]
        table.add_row(*row)
    console.print(table)
