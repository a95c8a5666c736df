"""Nothing in core/ reads the clock: no wall-clock or monotonic read, called or handed on as a default.

Time reaches core as a `now` argument or an injected clock, supplied by the entry points in bot/ (and by
tests). The walk resolves import aliases (`import time as t`, `from datetime import datetime as dt`) and
flags `from time import monotonic` too.
"""

from __future__ import annotations

import ast

from core.config import PROJECT_ROOT

TIME_READS = frozenset({
    "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "localtime", "gmtime",
    "ctime", "asctime", "process_time", "clock_gettime",
})
DATETIME_READS = frozenset({"now", "utcnow", "today"})
DATETIME_CLASSES = frozenset({"datetime.datetime", "datetime.date"})

# Modules allowed to read the clock themselves: none (a clock or `now` is always passed in).
ALLOWED: tuple[str, ...] = ()


def clock_reads(source: str, filename: str = "<source>") -> list[str]:
    """Every clock read in `source`, as "line: expression"."""
    tree = ast.parse(source, filename)
    modules: dict[str, str] = {}  # local name -> "time" or "datetime"
    classes: dict[str, str] = {}  # local name -> "datetime.datetime" / "datetime.date"
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("time", "datetime"):
                    modules[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in ("time", "datetime"):
            for alias in node.names:
                if node.module == "time" and alias.name in TIME_READS:
                    found.append(f"{node.lineno}: from time import {alias.name}")
                elif node.module == "datetime" and f"datetime.{alias.name}" in DATETIME_CLASSES:
                    classes[alias.asname or alias.name] = f"datetime.{alias.name}"
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if isinstance(owner, ast.Name):
            if modules.get(owner.id) == "time" and node.attr in TIME_READS:
                found.append(f"{node.lineno}: {owner.id}.{node.attr}")
            elif owner.id in classes and node.attr in DATETIME_READS:
                found.append(f"{node.lineno}: {owner.id}.{node.attr}")
        elif (isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name)
              and modules.get(owner.value.id) == "datetime" and owner.attr in ("datetime", "date")
              and node.attr in DATETIME_READS):
            found.append(f"{node.lineno}: {owner.value.id}.{owner.attr}.{node.attr}")
    return sorted(found, key=lambda s: int(s.split(":")[0]))


def test_the_walk_finds_every_spelling_of_a_clock_read() -> None:
    source = """
import time
import time as monotonic
import datetime as dt
from datetime import UTC, date, datetime as DT
from time import perf_counter

a = time.monotonic()
b = monotonic.monotonic()
c = DT.now(UTC)
d = date.today()
e = dt.datetime.utcnow()
def f(clock=time.time): ...
"""
    assert clock_reads(source) == [
        "6: from time import perf_counter",
        "8: time.monotonic",
        "9: monotonic.monotonic",
        "10: DT.now",
        "11: date.today",
        "12: dt.datetime.utcnow",
        "13: time.time",
    ]


def test_the_walk_leaves_times_that_are_arguments_alone() -> None:
    source = """
import asyncio
from datetime import datetime, time, timedelta

def due(now: datetime) -> datetime:
    return datetime.combine(now.date(), time(20, 0)) + timedelta(days=1)

async def wait(sleep, seconds: float) -> None:
    await sleep(seconds)
    await asyncio.sleep(0)
"""
    assert clock_reads(source) == []


def test_nothing_in_core_reads_the_clock() -> None:
    offenders = {}
    for path in sorted((PROJECT_ROOT / "core").rglob("*.py")):
        name = path.relative_to(PROJECT_ROOT).as_posix()
        if name.startswith(ALLOWED):
            continue
        reads = clock_reads(path.read_text(encoding="utf-8"), name)
        if reads:
            offenders[name] = reads
    assert offenders == {}
