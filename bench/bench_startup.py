"""Benchmark: CPU that the kit's processes spend importing before they do any work, with the kit's lean
imports (eigkit.runner.lean_imports) against the same imports without them, side by side in one run.

    .venv/bin/python bench/bench_startup.py [--rounds N]

Each case starts a fresh interpreter per round, alternating lean and plain, and reads the child's CPU time
(user + system) from ``getrusage``. It prints the median of each and ``ratio=<lean / plain>`` per case,
then the overall ratio last. Cases:

- pool worker: what ``eig run``'s worker process preloads (papermill and the kit's worker module);
- eig check: nbval's pytest with ``eig check``'s plugin options (plugins loaded, nothing collected).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile

LEAN = "import eigkit.runner.lean_imports\n"
CASES = {
    "pool worker": "import eigkit.runner.worker, papermill\n",
    "eig check": (
        "import sys, runpy\n"
        "sys.argv = ['pytest', '-p', 'eigkit.runner.nbval_kernels', '-p', 'no:cacheprovider',\n"
        "            '-p', 'no:anyio', '-c', '/dev/null', '--co', '-q', '/dev/null']\n"
        "try:\n    runpy.run_module('pytest', run_name='__main__', alter_sys=True)\n"
        "except SystemExit:\n    pass\n"
    ),
}


def child_cpu(code: str) -> float:
    """CPU seconds (user + system) of a fresh ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=tempfile.gettempdir())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interpreters started per case and variant")
    rounds = parser.parse_args().rounds
    ratios = []
    for name, code in CASES.items():
        lean, plain = [], []
        for _ in range(rounds):
            lean.append(child_cpu(LEAN + code))
            plain.append(child_cpu(code))
        lean_s, plain_s = statistics.median(lean), statistics.median(plain)
        ratios.append(lean_s / plain_s)
        print(f"{name}: lean {lean_s:.3f} s CPU, plain {plain_s:.3f} s CPU, ratio={lean_s / plain_s:.2f}")
    print(f"ratio={statistics.geometric_mean(ratios):.2f}")


if __name__ == "__main__":
    main()
