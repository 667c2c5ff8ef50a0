"""One-screen summary of every goal after a benchmark run (see ``benchmarks/goals.py``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from goals import GOALS, annotations, measured  # noqa: E402


def summary_lines() -> list[str]:
    """The summary table: goal, measured value, threshold, verdict; load average last."""
    values, notes = measured(), annotations()
    lines = [f"{'goal':<28} {'measured':>10}  {'target':<10} {'verdict':<8} detail"]
    for key, goal in GOALS.items():
        if key in values:
            value, detail = values[key]
            verdict = "met" if goal.met(value) else "NOT MET"
            shown = f"{value:.3f}{goal.unit}"
        else:
            verdict, shown, detail = "not run", "-", ""
        if key in notes:
            detail = f"{detail} [{notes[key]}]".lstrip()
        target = f"{goal.op} {goal.threshold:g}{goal.unit}"
        lines.append(f"{key:<28} {shown:>10}  {target:<10} {verdict:<8} {detail}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"load average at the end: {load} on {os.cpu_count()} cores")
    return lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not measured():
        return
    terminalreporter.section("goals (benchmarks/goals.py; results/bench-summary.json)")
    for line in summary_lines():
        terminalreporter.write_line(line)
    out = Path(config.rootpath) / "results" / "bench-summary.json"
    out.parent.mkdir(exist_ok=True)
    notes = annotations()
    out.write_text(json.dumps({k: {"value": v, "detail": d, "goal": f"{GOALS[k].op} "
                                   f"{GOALS[k].threshold}", "met": GOALS[k].met(v),
                                   **({"reference": notes[k]} if k in notes else {})}
                               for k, (v, d) in measured().items()}, indent=2) + "\n")
