"""How much pytest-parity costs, against its targets (method: bench/README.md).

    python bench/bench.py [--rounds N] [--only CASE ...]

Run-time cases time paired runs, bare pytest then pytest with pytest-parity, alternating,
and judge the median of the per-pair ratios; the other cases time one process each.
Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
PARITY = ["-p", "pytest_parity.plugin"]
XDIST = ["-p", "xdist.plugin", "-n", "2"]
#: plugin autoloading off on both sides; bytecode caching on (else every plugin run
#: would compile the package, and the baseline never imports it)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"

#: a child process that builds the records of N passing tests (those with ``t % OF ==
#: SHARD``), each naming one of N / 10 invariants, runs CODE, then prints how long CODE
#: took and how much it added to the peak memory (MB)
MEASURE = """
import datetime as dt, resource, sys, time
from pytest_parity.evidence import evaluate
from pytest_parity.model import Invariant, Milestone, Registry, TestRecord
n, out, shard, of = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
registry = Registry([Milestone(f"M{m}") for m in range(1, 6)], file="parity.toml")
for i in range(max(n // 10, 1)):
    registry.add(Invariant(f"INV-{i:06d}", f"M{i % 5 + 1}", f"generated invariant {i}"))
ids = list(registry.invariants)
records = {}
for t in range(shard, n, of):
    nodeid = f"tests/test_gen_{t // 100:05d}.py::test_{t % 100}"
    file = nodeid.partition("::")[0]
    records[nodeid] = TestRecord(nodeid, "passed", (ids[t % len(ids)],), (), "", file, t % 100)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
CODE
seconds = time.perf_counter() - start
print(seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
PAGE = """
from pytest_parity.links import SourceLinks
from pytest_parity.page import PageInfo, write_page
evidence = evaluate(registry, records, today=dt.date(2026, 1, 1))
links = SourceLinks.parse("https://github.com/O/R/blob/{sha}/{path}#L{line}", "0" * 40, "-")
write_page(out, evidence, None, PageInfo("2026-01-01T00:00:00+00:00", 1, links))
"""
WRITE = """
from pytest_parity.report import write_report
evidence = evaluate(registry, records, today=dt.date(2026, 1, 1))
write_report(out, evidence, None, timestamp=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
"""


def write_suite(root: Path, n_tests: int, n_invariants: int) -> Path:
    """``n_tests`` trivial tests in files of 100; with a registry, each test names one."""
    root.mkdir(parents=True)
    ini = "[pytest]\nmarkers =\n    parity: (registered for the baseline too)\n"
    (root / "pytest.ini").write_text(ini)
    if n_invariants:
        lines = ['milestones = ["M1", "M2", "M3", "M4", "M5"]']
        for i in range(n_invariants):
            lines += [
                f"[invariants.INV-{i:04d}]",
                f'milestone = "M{i % 5 + 1}"',
                f'title = "t {i}"',
            ]
        (root / "parity.toml").write_text("\n".join(lines) + "\n")
    for f in range(n_tests // 100):
        body = ["import pytest"]
        for i in range(100):
            if n_invariants:
                body.append(f'@pytest.mark.parity("INV-{(f * 100 + i) % n_invariants:04d}")')
            body.append(f"def test_{i}(): pass")
        (root / f"test_gen_{f:04d}.py").write_text("\n".join(body) + "\n")
    return root


def wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def paired(base: list[str], other: list[str], cwd: Path, rounds: int) -> float:
    """Median of the per-pair ratios other/base, after one warm-up pair."""
    wall(base, cwd), wall(other, cwd)
    return statistics.median(wall(other, cwd) / wall(base, cwd) for _ in range(rounds))


def measure(n: int, code: str, out: Path, shard: int = 0, of: int = 1) -> tuple[float, float]:
    argv = [sys.executable, "-c", MEASURE.replace("CODE", code), str(n), str(out), str(shard)]
    proc = subprocess.run([*argv, str(of)], env=ENV, capture_output=True, text=True, check=True)
    seconds, added_mb = proc.stdout.split()
    return float(seconds), float(added_mb)


def timed_command(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of one command, in a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], env=ENV, capture_output=True, text=True, check=True
    )
    seconds, kb = proc.stdout.split()
    return float(seconds), float(kb) / 1024


def run_cases(work: Path, rounds: int, only: list[str]) -> list[tuple[str, str, str, bool | None]]:
    rows: list[tuple[str, str, str, bool | None]] = []
    report = f"--parity-report={work / 'r.xml'}"
    if "dormant" in only:
        suite = write_suite(work / "dormant", 5_000, 0)
        ratio = paired(PYTEST, PYTEST + PARITY, suite, rounds)
        rows.append(("dormant, 5,000 tests", f"{ratio:.3f}x", "<= 1.01x", ratio <= 1.01))
    if "active" in only:
        suite = write_suite(work / "active", 5_000, 500)
        ratio = paired(PYTEST, PYTEST + PARITY + ["--parity-gate=all", report], suite, rounds)
        junit = paired(PYTEST, [*PYTEST, f"--junitxml={work / 'j.xml'}"], suite, rounds)
        share = (ratio - 1) / (junit - 1) if junit > 1 else float("inf")
        ok = ratio <= 1.05 and share < 0.4
        rows.append(("active, 500 invariants, 5,000 tests", f"{ratio:.3f}x", "<= 1.05x", ok))
        rows.append(("  --junitxml, same suite", f"{junit:.3f}x", "-", None))
        rows.append(("  share of --junitxml's overhead", f"{share:.0%}", "< 40%", share < 0.4))
    if "xdist" in only:
        suite = write_suite(work / "xdist", 20_000, 500)
        plugin = PYTEST + XDIST + PARITY + ["--parity-gate=all", report]
        ratio = paired(PYTEST + XDIST, plugin, suite, rounds)
        rows.append(("active, 20,000 tests, -n 2", f"{ratio:.3f}x", "<= 1.05x", ratio <= 1.05))
    if "report" in only:
        seconds, added = measure(100_000, WRITE, work / "big.xml")
        ok = seconds <= 1.5 and added <= 150
        figure = f"{seconds:.2f} s, +{added:.0f} MB"
        rows.append(("report build + write, 100,000 tests", figure, "<= 1.5 s, <= 150 MB", ok))
    if "cli" in only:
        shards = [work / f"shard{i}.xml" for i in range(8)]
        for i, shard in enumerate(shards):
            measure(100_000, WRITE, shard, i, len(shards))
        cli = [sys.executable, "-m", "pytest_parity"]
        for name, extra in (("check", []), ("merge", ["-o", str(work / "merged.xml")])):
            seconds, peak = timed_command([*cli, name, *map(str, shards), *extra])
            ok = seconds < 3 and peak < 300
            figure = f"{seconds:.2f} s, {peak:.0f} MB"
            rows.append((f"{name}, 8 shards, 100,000 tests", figure, "< 3 s, < 300 MB", ok))
        measure(100_000, WRITE, work / "head.xml")
        seconds, peak = timed_command(
            [*cli, "diff", "--base", str(work / "merged.xml"), str(work / "head.xml")]
        )
        figure = f"{seconds:.2f} s, {peak:.0f} MB"
        rows.append(("diff, two reports of 100,000 tests", figure, "< 3 s", seconds < 3))
    if "html" in only:
        seconds, added = measure(100_000, PAGE, work / "page.html")
        size = (work / "page.html").stat().st_size / 1e6
        figure = f"{seconds:.2f} s, {size:.1f} MB"
        ok = seconds < 3 and size < 25
        rows.append(("page render + write, 100,000 tests", figure, "< 3 s, < 25 MB", ok))
    if "linear" in only:
        small = measure(100_000, WRITE, work / "small.xml")[0] / 100_000
        large = measure(1_000_000, WRITE, work / "large.xml")[0] / 1_000_000
        ratio = large / small
        rows.append(
            ("per-test cost, 1,000,000 / 100,000", f"{ratio:.2f}x", "<= 1.5x", ratio <= 1.5)
        )
    return rows


def main() -> int:
    cases = ["dormant", "active", "xdist", "report", "cli", "html", "linear"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="timed pairs per run-time case")
    parser.add_argument("--only", action="append", choices=cases, help="run only these cases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parity-bench-") as tmp:
        rows = run_cases(Path(tmp), args.rounds, args.only or cases)
    print(f"{dt.date.today()}, Python {sys.version.split()[0]}, {args.rounds} pairs per case")
    width = max(len(row[0]) for row in rows)
    for case, figure, target, ok in rows:
        verdict = {True: "PASS", False: "FAIL", None: ""}[ok]
        print(f"{case:<{width}}  {figure:>18}  {target:>20}  {verdict}")
    return 0 if all(ok is not False for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
