"""What every benchmark shares: a result row, the table it prints, the JSON it writes."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    """One figure: ours next to the reference, and their ratio (> 1 means ours is better)."""

    figure: str
    ours: float
    reference: float
    unit: str
    higher_is_better: bool = True
    target: float | None = None
    """The ratio we aim for (DESIGN §9 / BENCHMARKS.md); None when the figure is informative."""
    notes: str = ""

    @property
    def ratio(self) -> float:
        if self.higher_is_better:
            return self.ours / self.reference if self.reference else float("inf")
        return self.reference / self.ours if self.ours else float("inf")

    @property
    def meets_target(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


@dataclass
class Report:
    name: str
    rows: list[Row] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def emit(self) -> None:
        """Print the table and write benchmarks/results/<name>.json."""
        table = Table(title=f"benchmark: {self.name}")
        for column in ("figure", "ours", "reference", "ratio", "target", "met"):
            table.add_column(column)
        for row in self.rows:
            met = row.meets_target
            table.add_row(
                row.figure,
                f"{row.ours:,.3f} {row.unit}",
                f"{row.reference:,.3f} {row.unit}",
                f"{row.ratio:.2f}x",
                "" if row.target is None else f">= {row.target:.2f}x",
                "" if met is None else ("yes" if met else "NO"),
            )
        Console(soft_wrap=True).print(table)
        RESULTS.mkdir(parents=True, exist_ok=True)
        payload = {
            "name": self.name,
            "when": datetime.now(UTC).isoformat(),
            "machine": machine(),
            "meta": self.meta,
            "rows": [
                {**asdict(row), "ratio": row.ratio, "met": row.meets_target} for row in self.rows
            ],
        }
        (RESULTS / f"{self.name}.json").write_text(json.dumps(payload, indent=2) + "\n")


def machine() -> dict[str, Any]:
    memory_kib = 0
    try:
        with open("/proc/meminfo") as meminfo:
            memory_kib = int(meminfo.readline().split()[1])
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "git": _git_head(),
    }


def _git_head() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return ""


def timed(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def best_of(repeats: int, function: Callable[[], float]) -> float:
    """The best (smallest) of several timings: the run least disturbed by the machine."""
    return min(function() for _ in range(repeats))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
