"""`make bench`: run every benchmark (each in its own process) and print one combined table."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from rich.console import Console
from rich.table import Table

from benchmarks.common import RESULTS

BENCHMARKS = ("write_path", "read_models", "api", "end_to_end", "scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: each under a minute")
    parser.add_argument("only", nargs="*", help=f"benchmarks to run (of {', '.join(BENCHMARKS)})")
    args = parser.parse_args(argv)
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    failed = []
    for name in args.only or BENCHMARKS:
        command = [sys.executable, "-m", f"benchmarks.{name}", *(["--quick"] if args.quick else [])]
        Console().rule(f"benchmarks.{name}")
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
    summary(args.only or BENCHMARKS)
    (RESULTS / "summary.md").write_text(markdown(args.only or BENCHMARKS))
    if failed:
        Console(stderr=True).print(f"[red]failed:[/] {', '.join(failed)}")
    return 1 if failed else 0


def markdown(names: tuple[str, ...] | list[str]) -> str:
    """The combined table as Markdown, for BENCHMARKS.md."""
    lines = [
        "| benchmark | figure | ours | reference | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    machine = {}
    for name in names:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        machine = result["machine"]
        for row in result["rows"]:
            target = "" if row["target"] is None else f">= {row['target']:.2f}x"
            met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
            lines.append(
                f"| {name} | {row['figure']} | {row['ours']:,.3f} {row['unit']} | "
                f"{row['reference']:,.3f} {row['unit']} | {row['ratio']:.2f}x | {target} | {met} |"
            )
    if machine:
        lines.append("")
        lines.append(
            f"Machine: {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
            f"{machine['platform']}, Python {machine['python']}, commit {machine['git']}."
        )
    return "\n".join(lines) + "\n"


def summary(names: tuple[str, ...] | list[str]) -> None:
    table = Table(title="all benchmarks (ratio > 1: ours better than the reference)")
    for column in ("benchmark", "figure", "ours", "reference", "ratio", "target", "met"):
        table.add_column(column)
    for name in names:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        for row in json.loads(path.read_text())["rows"]:
            table.add_row(
                name,
                row["figure"],
                f"{row['ours']:,.3f} {row['unit']}",
                f"{row['reference']:,.3f} {row['unit']}",
                f"{row['ratio']:.2f}x",
                "" if row["target"] is None else f">= {row['target']:.2f}x",
                "" if row["met"] is None else ("yes" if row["met"] else "NO"),
            )
    Console(soft_wrap=True).print(table)


if __name__ == "__main__":
    sys.exit(main())
