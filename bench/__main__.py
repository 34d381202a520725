"""`make bench`: run every benchmark module in this package, each printing ratios against its baseline.

A module `bench/bench_<name>.py` defines `run() -> None`. Pass names to run only some:
`python -m bench export review`.
"""

import importlib
import os
import pkgutil
import sys
import time

import django


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "framework.settings.bench")
    django.setup()
    import bench

    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    wanted = {f"bench_{a}" for a in argv}
    for name in names:
        if wanted and name not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== {name[6:]} ===", flush=True)
        start = time.perf_counter()
        module.run()
        print(f"({name[6:]} took {time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
