"""One static HTML file per run: what was judged, what won, and the evidence.

Self-contained (no network: charts are inline SVG drawn with matplotlib, no scripts, no
fonts fetched), escaped everywhere (jinja2 autoescape: a candidate's source or a check's detail
is shown, never interpreted). ``kernelswarm report RUN --html FILE`` writes it from the store;
``optimize`` and ``suite`` write it at the end of a run.
"""

from __future__ import annotations

import io
import json
import math
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from kernelswarm import __version__
from kernelswarm.judge.results import BenchResult
from kernelswarm.plain import to_plain
from kernelswarm.report.timing import speedup_text
from kernelswarm.runs import JudgedRow, RunDetail, RunsReader


@dataclass
class Report:
    detail: RunDetail
    winner_source: str = ""
    benches: dict[str, BenchResult] = field(default_factory=dict)


def gather(reader: RunsReader, run_id: int) -> Report:
    detail = reader.show(run_id)
    report = Report(detail)
    if detail.winner is not None:
        report.winner_source = reader.source(detail.winner.candidate_id)
    report.benches = reader.benches(run_id)
    return report


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML prologue


def roofline_svg(bench: BenchResult, judged: list[JudgedRow], problem: str) -> str | None:
    """The device's measured ceilings, the baselines and every correct candidate, as FLOP/s
    against arithmetic intensity (one problem: one intensity, the points stacked on it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timing = bench.timing
    counts, peaks = timing.counts, timing.peaks
    flops = counts.flops + counts.other_flops
    moved = counts.moved_bytes
    if flops <= 0 or moved <= 0 or peaks.bandwidth <= 0:
        return None
    peak_flops = peaks.matmul.get(counts.dtype) or max(peaks.matmul.values(), default=0.0)
    if peak_flops <= 0:
        return None
    intensity = flops / moved
    ridge = peak_flops / peaks.bandwidth
    xs = [min(intensity, ridge) / 100, ridge, max(intensity, ridge) * 100]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(xs, [min(x * peaks.bandwidth, peak_flops) for x in xs], color="black", lw=1.5,
            label=f"measured ceilings ({peaks.bandwidth / 1e9:.0f} GB/s, "
                  f"{peak_flops / 1e12:.1f} TFLOP/s {counts.dtype})")  # fmt: skip
    points = [(name, timing.median(name)) for name in ("eager", "compile")]
    points += [(f"candidate {j.candidate_id}", j.candidate_seconds) for j in judged
               if j.verdict == "accepted" and j.problem == problem and j.candidate_seconds]  # fmt: skip
    markers = {"eager": ("s", "tab:blue"), "compile": ("D", "tab:orange")}
    for name, seconds in points:
        if not seconds:
            continue
        marker, colour = markers.get(name, ("o", "tab:green"))
        ax.scatter(
            [intensity], [flops / seconds], marker=marker, color=colour, label=name, zorder=3
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("FLOP/s achieved")
    ax.set_title(f"{problem} on {peaks.device}")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(True, which="both", alpha=0.2)
    return _svg(fig)


def progress_svg(detail: RunDetail) -> str | None:
    """Per generator, the best accepted speedup against eager after each round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = sorted({j.round for j in detail.judged if j.round is not None})
    generators = sorted({j.generator for j in detail.judged if j.generator})
    if not rounds or not generators:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for generator in generators:
        best, ys = None, []
        for r in rounds:
            for j in detail.judged:
                if (
                    j.generator == generator
                    and j.round == r
                    and j.verdict == "accepted"
                    and j.eager
                ):
                    best = max(best or 0.0, j.eager.median)
            ys.append(best if best is not None else math.nan)
        ax.plot(rounds, ys, marker="o", label=generator)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("round")
    ax.set_ylabel("best speedup vs eager")
    ax.set_xticks(rounds)
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.2)
    return _svg(fig)


def reproduce(detail: RunDetail) -> str:
    """The command that runs it again (the swarm's settings are listed beside it)."""
    args, kind = detail.args, detail.run.kind
    parts = ["kernelswarm", kind]
    if kind == "optimize":
        parts.append(str(args.get("problem", "PROBLEM.py")))
        generators = (args.get("swarm") or {}).get("generators") or []
        if any(g.get("kind") != "builtin" for g in generators if isinstance(g, dict)):
            parts += ["--swarm", "swarm.toml"]  # its settings: below
        parts += [
            "--device",
            str(args.get("device", "auto")),
            "--precision",
            str(args.get("policy", "strict")),
        ]
        for o in args.get("overrides") or []:
            name, value = (o["name"], o["value"]) if isinstance(o, dict) else o
            parts += ["--set", f"{name}={value}"]
    elif kind == "suite":
        config = args.get("config") or {}
        parts.append(str(config.get("root", "ROOT")))
        if config.get("solutions"):
            parts += ["--solutions", str(config["solutions"])]
        parts += [
            "--device",
            str(config.get("device", "auto")),
            "--policy",
            str(config.get("policy", "strict")),
        ]
    return shlex.join(parts)  # fmt: skip


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kernelswarm run {{ run.id }}: {{ run.kind }} · {{ run.state }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #1d1d1f; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f6f6f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.accepted { color: #137333; font-weight: 600; } .rejected { color: #b3261e; font-weight: 600; }
.error, .interrupted, .failed { color: #a15c00; font-weight: 600; } .finished { color: #137333; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; font-size: 12px; }
.chart svg { max-width: 100%; height: auto; } .muted { color: #666; }
</style></head><body>
<h1>kernelswarm run {{ run.id }} — {{ run.kind }} <span class="{{ run.state }}">{{ run.state }}</span></h1>
<p class="muted">started {{ started }}{% if run.seconds %} · {{ '%.0f' % run.seconds }} s{% endif %}
 · device {{ run.device or 'unknown' }} · problems: {{ run.problems | join(', ') or '—' }}
 · {{ run.judged }} judged, {{ run.accepted }} accepted</p>

{% if winner and beats %}<h2 id="winner">Winner</h2>
<p>Candidate {{ winner.candidate_id }} ({{ winner.origin }}) on {{ winner.problem }}:
<b>{{ x(winner.eager) }}</b> against eager, <b>{{ x(winner.compile) }}</b> against torch.compile
(median [95% interval]){% if winner.sol_fraction %}, at {{ '%.0f' % (100 * winner.sol_fraction) }}% of the speed of light{% endif %}.</p>
{% elif winner %}<h2 id="winner">No winner</h2>
<p>No candidate beat both baselines with confidence (the rule: the 95% interval above
{{ '%.2f' % gain }}x against eager and against torch.compile). The fastest accepted candidate,
{{ winner.candidate_id }} ({{ winner.origin }}) on {{ winner.problem }}, measured {{ x(winner.eager) }}
against eager and {{ x(winner.compile) }} against torch.compile.</p>
{% else %}<h2 id="winner">No winner</h2>
<p>No candidate was accepted{% if run.judged %} ({{ run.judged }} judged){% endif %}.</p>
{% endif %}
{% if winner %}<pre id="winner-source">{{ winner_source }}</pre>{% endif %}

{% if baselines %}<h2 id="baselines">Baselines</h2>
<p>Timed once, at the run's start. Each attempt's speedups compare it with the baselines timed
beside it, interleaved in its own check, not with these.</p>
<table><tr><th>problem</th><th>device</th><th>eager</th><th>torch.compile</th><th>speed-of-light floor</th></tr>
{% for b in baselines %}<tr><td>{{ b.problem }}</td><td>{{ b.device }}</td><td class="num">{{ s(b.eager_seconds) }}</td>
<td class="num">{{ s(b.compile_seconds) }}</td><td class="num">{{ s(b.floor_seconds) }}</td></tr>{% endfor %}
</table>{% endif %}

{% if charts %}<h2 id="charts">Charts</h2>
{% for title, svg in charts %}<figure class="chart"><figcaption>{{ title }}</figcaption>{{ svg | safe }}</figure>{% endfor %}
{% endif %}

{% if levels %}<h2 id="fast-p">Per level: correctness and fast_p</h2>
<table><tr><th>level</th><th>problems</th><th>attempted</th><th>correct</th><th>fast_p vs eager</th><th>fast_p vs compile</th><th>geomean vs eager</th><th>geomean vs compile</th></tr>
{% for l in levels %}<tr><td>{{ l.level }}</td><td class="num">{{ l.problems }}</td><td class="num">{{ l.attempted }}</td><td class="num">{{ l.correct }}</td>
<td>{% for p, v in l.fast_p_eager.items() %}p={{ p }}: {{ '%.0f' % (100 * v) }}% {% endfor %}</td>
<td>{% for p, v in l.fast_p_compile.items() %}p={{ p }}: {{ '%.0f' % (100 * v) }}% {% endfor %}</td>
<td class="num">{{ r(l.geomean_eager) }}</td><td class="num">{{ r(l.geomean_compile) }}</td></tr>{% endfor %}
</table>{% endif %}

<h2 id="attempts">Every attempt ({{ judged | length }})</h2>
<table><tr><th>problem</th><th>round</th><th>generator</th><th>candidate</th><th>verdict</th><th>failing check and its numbers</th><th>vs eager [95%]</th><th>vs compile [95%]</th><th>speed of light</th></tr>
{% for j in judged %}<tr><td>{{ j.problem }}</td><td class="num">{{ j.round or '' }}</td><td>{{ j.generator or '' }}</td><td>{{ j.origin }}</td>
<td class="{{ j.verdict }}">{{ j.verdict }}</td><td>{% if j.failed_check %}<b>{{ j.failed_check }}</b>: {{ j.detail }}{% endif %}</td>
<td class="num">{{ x(j.eager) }}</td><td class="num">{{ x(j.compile) }}</td><td class="num">{{ pct(j.sol_fraction) }}</td></tr>{% endfor %}
</table>

<h2 id="environment">Environment and reproduction</h2>
<pre id="command">{{ command }}</pre>
<details><summary>the run's settings</summary><pre>{{ settings }}</pre></details>
<details><summary>versions</summary><pre>{{ versions }}</pre></details>
<p class="muted">written by kernelswarm {{ version }} from {{ database }}</p>
</body></html>
"""


def render(report: Report, database: str = "") -> str:
    import datetime

    detail = report.detail
    charts = []
    for problem, bench in report.benches.items():
        svg = roofline_svg(bench, detail.judged, problem)
        if svg:
            charts.append((f"Roofline: {problem}", svg))
    progress = progress_svg(detail)
    if progress:
        charts.append(("Progress per generator over rounds", progress))
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

    def seconds(v: float | None) -> str:
        return f"{v * 1e3:.4g} ms" if v else "—"

    budget = (
        ((detail.args.get("swarm") or {}).get("budget") or {})
        if isinstance(detail.args.get("swarm"), dict)
        else {}
    )
    gain = float(budget.get("min_gain", 1.0))
    w = detail.winner  # a winner by the supervisor's own rule (search.attempts)
    beats = bool(w and w.eager and w.compile and w.eager.clears(gain) and w.compile.clears(gain))
    versions = detail.versions or next(
        (to_plain(b.versions) for b in report.benches.values() if b.versions), {}
    )
    return env.from_string(TEMPLATE).render(
        run=detail.run, started=datetime.datetime.fromtimestamp(detail.run.started).isoformat(" ", "seconds"),
        winner=detail.winner, beats=beats, gain=gain, winner_source=report.winner_source, baselines=detail.baselines,
        charts=charts, levels=detail.summary.get("levels") or [], judged=detail.judged, command=reproduce(detail),
        settings=json.dumps(detail.args, indent=2, default=str),
        versions=json.dumps(versions, indent=2, default=str), version=__version__,
        database=database, x=speedup_text, s=seconds, r=lambda v: f"{v:.2f}x" if v else "—",
        pct=lambda v: f"{100 * v:.0f}%" if v else "—",
    )  # fmt: skip


def write_report(db: Path, run_id: int | None, html: Path) -> int:
    """Write the report of a run (None: the latest) to ``html``; returns the run's number.
    Raises RunsError for a database or run that cannot be read."""
    reader = RunsReader(db)
    try:
        run_id = run_id if run_id is not None else reader.latest()
        html.write_text(render(gather(reader, run_id), str(db)))
    finally:
        reader.close()
    return run_id
