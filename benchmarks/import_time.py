"""How long `import ftkit` takes, against `import pydantic` (its floor) measured in the same run.

Target: under 0.3 s on the project's 2-core machine, with no torch, transformers or provider SDK loaded.

    python benchmarks/import_time.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

RUNS = 7


def best_of(code: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = best_of("pass")
    pydantic = best_of("import pydantic")
    ftkit = best_of("import ftkit")
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, ftkit; print(sorted(m for m in ('torch','transformers','openai','together','numpy') if m in sys.modules))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"python startup        {bare:.3f} s")
    print(f"import pydantic       {pydantic:.3f} s")
    print(f"import ftkit          {ftkit:.3f} s   (target < 0.300 s; {ftkit / pydantic:.2f}x pydantic)")
    print(f"heavy modules loaded  {heavy}")


if __name__ == "__main__":
    main()
