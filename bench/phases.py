"""Where the active plugin's instructions go, phase by phase (a development aid).

Run from the repository root with the project installed and valgrind on the PATH::

    python bench/phases.py [--seed N] [--invariants 500] [--tests 5000]

It generates the ``active`` suite of ``bench/bench.py`` and runs it twice under callgrind,
bare pytest and ``-p pytest_parity.plugin --parity-gate all --parity-report``, with a small
marker plugin (``bench/_phasemarks.py``) loaded on both sides. At each phase boundary the
marker calls ``os.getppid()``, and ``--dump-before=getppid`` makes callgrind dump its
counter there, so each phase gets its own instruction count. The table shows both sides
and the difference.

Counts of one phase move by up to ~30M instructions with unrelated changes (where the
garbage collector's full collections happen to fall, memory layout): compare phases
that differ by more than that, and judge the whole with ``bench.py --only instructions``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench import PARITY, PYTEST, check, clean_env, write_suite


def counts(out: Path, labels_file: Path) -> list[tuple[str, int]]:
    """(phase, instructions) in order: callgrind wrote ``out.1``, ``out.2``, ... at each
    boundary and ``out`` at exit."""
    labels = [*json.loads(labels_file.read_text(encoding="utf-8")), "exit"]
    files = [Path(f"{out}.{n}") for n in range(1, len(labels))] + [out]
    found = []
    for label, file in zip(labels, files, strict=True):
        match = re.search(r"^(?:summary|totals): (\d+)", file.read_text(), re.MULTILINE)
        if match is None:
            raise SystemExit(f"no instruction count in {file}")
        found.append((label, int(match.group(1))))
    return found


def run(suite: Path, work: Path, name: str, extra: tuple[str, ...], seed: int) -> dict[str, int]:
    out, labels = work / f"{name}.out", work / f"{name}.labels"
    env = {
        **clean_env(),
        "PYTHONHASHSEED": str(seed),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
        ),
        "PHASEMARKS_OUT": str(labels),
    }
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--dump-before=getppid",
        f"--callgrind-out-file={out}",
        *PYTEST,
        "-p",
        "_phasemarks",
        *extra,
    ]
    proc = subprocess.run(cmd, cwd=suite, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return dict(counts(out, labels))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="PYTHONHASHSEED (default 0)")
    parser.add_argument("--invariants", type=int, default=500)
    parser.add_argument("--tests", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parity-phases-") as tmp:
        work = Path(tmp)
        suite = write_suite(work / "suite", args.tests, args.invariants)
        report = work / "report.xml"
        plugin = (*PARITY, "--parity-gate", "all", f"--parity-report={report}")
        check(PYTEST, suite)  # warm-up: bytecode caches
        check((*PYTEST, *plugin), suite)
        base = run(suite, work, "baseline", (), args.seed)
        active = run(suite, work, "plugin", plugin, args.seed)
    print(f"{'phase (instructions, millions)':34} {'baseline':>10} {'plugin':>10} {'diff':>9}")
    for phase in dict.fromkeys([*base, *active]):
        b, p = base.get(phase, 0), active.get(phase, 0)
        print(f"{phase:34} {b / 1e6:10.1f} {p / 1e6:10.1f} {(p - b) / 1e6:+9.1f}")
    total_b, total_p = sum(base.values()), sum(active.values())
    diff = (total_p - total_b) / 1e6
    print(f"{'total':34} {total_b / 1e6:10.1f} {total_p / 1e6:10.1f} {diff:+9.1f}")
    print(f"ratio {total_p / total_b:.4f} (PYTHONHASHSEED={args.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
