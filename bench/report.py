"""The results table, the targets of issue 2, and the section of bench/RESULTS.md a run owns."""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    limit: float
    at_most: bool  # True: the figure must be <= limit; False: >= limit
    unit: str


TARGETS = (
    Target("queue_p95", "queue page p95", 40, True, "ms"),
    Target("ticket_p95", "ticket page p95", 40, True, "ms"),
    Target("api_list_p95", "API list p95", 25, True, "ms"),
    Target("max_queries", "queries per page", 12, True, ""),
    Target("queue_rps_16", "queue page, 16 connections", 300, False, "req/s"),
    Target("create_rate_1", "API create, 1 client", 150, False, "tickets/s"),
    Target("create_rate_8", "API create, 8 clients", 300, False, "tickets/s"),
)


def met(target: Target, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    ok = value <= target.limit if target.at_most else value >= target.limit
    return "met" if ok else "NOT met"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    load = "unknown"
    with contextlib.suppress(OSError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {"nproc": str(os.cpu_count()), "memory": memory, "cpu": cpu, "python": platform.python_version(),
            "load": load}


def fmt(value: float | int | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    def line(cells: list[str]) -> str:
        return "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=False))
    return "\n".join([line(header), line(["-" * w for w in widths]), *[line(r) for r in rows]])


def write_section(section_id: str, body: str) -> None:
    """Replace this run's section of RESULTS.md (between its markers), keeping everything else."""
    begin, end = f"<!-- bench:{section_id}:begin -->", f"<!-- bench:{section_id}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}\n"
    text = RESULTS.read_text() if RESULTS.exists() else (
        "# Benchmark results\n\nWritten by `make bench` (`bench/run.py`); each section is replaced by the next run "
        "of the same size. Targets are those of issue 2.\n\n"
    )
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    RESULTS.write_text(text)
