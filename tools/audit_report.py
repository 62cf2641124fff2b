"""Markdown tables from `kernelswarm lint --json` files: one summary row per level, then every
problem with a finding. Used for docs/kernelbench-audit.md:

    python tools/audit_report.py level1.json level2.json level3.json
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KINDS = (
    "broken", "near-constant", "weak-on-own-inputs", "nondeterministic", "input-without-effect",
    "weight-without-effect", "constant-weights", "overhead-bound", "too-large", "lint-error",
)  # fmt: skip


def main(paths: list[str]) -> None:
    levels = [(Path(p).stem, json.loads(Path(p).read_text())) for p in paths]
    print("| level | problems | clean | " + " | ".join(KINDS) + " |")
    print("|---" * (3 + len(KINDS)) + "|")
    for name, results in levels:
        counts = Counter(f["kind"] for r in results for f in r["findings"])
        clean = sum(1 for r in results if not r["findings"])
        cells = " | ".join(str(counts.get(k, 0)) for k in KINDS)
        print(f"| {name} | {len(results)} | {clean} | {cells} |")
    for name, results in levels:
        print(f"\n### {name}\n")
        print("| problem | findings | checked at | detail (first finding) |")
        print("|---|---|---|---|")
        for r in sorted(results, key=lambda r: _number(Path(r["problem"]).name)):
            if not r["findings"]:
                continue
            kinds = ", ".join(dict.fromkeys(f["kind"] for f in r["findings"]))
            detail = r["findings"][0]["detail"].replace("|", "\\|").replace("\n", " ")[:220]
            sizes = ", ".join(r["checked_at"]) or "default"
            print(f"| {Path(r['problem']).name} | {kinds} | {sizes} | {detail} |")


def _number(name: str) -> int:
    head = name.split("_", 1)[0]
    return int(head) if head.isdigit() else 10**6


if __name__ == "__main__":
    main(sys.argv[1:])
