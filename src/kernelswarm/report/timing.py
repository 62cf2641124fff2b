"""A measurement on a terminal: times with intervals, the speed of light, speedups, warnings."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from kernelswarm.judge.results import Speedup, TimingResult


def seconds_text(seconds: float | None) -> str:
    """A duration in ms or µs, three significant digits; "-" when unknown."""
    if seconds is None or seconds != seconds:
        return "-"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def speedup_text(s: Speedup | None) -> str:
    """``2.31x [2.20, 2.45]``: the median speedup and its 95% interval; "—" when there is none."""
    return f"{s.median:.2f}x [{s.low:.2f}, {s.high:.2f}]" if s else "—"


def render_timing(timing: TimingResult, console: Console, speedups: bool = True) -> None:
    """Times, intervals, % of speed of light, speedups and warnings of one measurement."""
    table = Table(
        title=f"Timing on {timing.device} ({timing.sets} input sets rotated)",
        title_justify="left",
    )
    for col in ("implementation", "median", "95% interval", "samples", "% speed of light", "notes"):
        table.add_column(col)
    for name, t in timing.implementations.items():
        notes = []
        if t.compile_seconds is not None:
            notes.append(f"compile {t.compile_seconds:.1f} s")
        if t.first_visit_median and t.repeat_median:
            notes.append(
                f"new inputs {seconds_text(t.first_visit_median)} / seen {seconds_text(t.repeat_median)}"
            )
        table.add_row(
            name,
            seconds_text(t.median),
            f"{seconds_text(t.low)} – {seconds_text(t.high)} (±{100 * t.rel_halfwidth:.2g}%)",
            str(t.samples),
            "-" if t.sol_fraction is None else f"{100 * t.sol_fraction:.3g}%",
            "; ".join(notes),
        )
    console.print(table)
    floor = timing.floor
    if floor is not None:
        console.print(
            Text.assemble(
                ("speed of light", "bold"),
                f": {floor.flops / 1e9:.4g} GFLOP (+{floor.other_flops / 1e9:.3g} other), "
                f"{floor.bytes / 2**20:.4g} MiB → floor {seconds_text(floor.seconds)} ({floor.bound}-bound; "
                f"{floor.rate_name} {floor.rate / 1e12:.3g} TFLOP/s, {floor.bandwidth / 1e9:.4g} GB/s measured)",
            )
        )
    for name, s in timing.speedups.items() if speedups else ():
        console.print(Text.assemble((f"speedup over {name}", "bold"), f": {s.summary}"))
    for warning in timing.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
