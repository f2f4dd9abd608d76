"""What a process burning CPU at SCHED_IDLE on another core costs everything else, with no attacker
and no engine involved in the burning (issue #13's residual): the same latency samples as
bench/hostile_script.py (start+complete, sign-in, /healthz on SQLite), in rounds taken in turn
with nothing else running ("none") and with one unrelated `chrt -i 0` process computing pow()
on a 30000-bit modulus in a loop ("hog"; `--normal` runs it at normal priority instead).

    python bench/idle_hog.py [--rounds 10] [--samples 100] [--normal]

Prints, per measure, p50 and p99 in milliseconds for both, and the share of the hog's samples above
the p99 with none (1% when the hog changes nothing)."""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.hostile_script import DIAGRAM, PASSWORD, measure, percentile  # noqa: E402
from yijianshi.engine.composition import System  # noqa: E402
from yijianshi.engine.settings import Settings  # noqa: E402
from yijianshi.web.app import create_app  # noqa: E402

HOG = [sys.executable, "-c", "while True: x = pow(3, 1 << 30000, (1 << 30000) - 1)"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--normal", action="store_true", help="run the hog at normal priority")
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="yjs-idle-hog-")
    system = System.build(Settings.at(home, password_hash_method="argon2:1:8:1", script_cpu_seconds=1.0))
    try:
        system.db.upgrade()
        system.engine.deploy([DIAGRAM])
        system.accounts.create("bench_user", PASSWORD, "测试员", "front_desk")
        client = create_app(system, {"SECRET_KEY": "bench", "ACCOUNT_CACHE_SECONDS": 0}).test_client()
        measure(system, client, 10)  # warm-up
        figures: dict[str, dict[str, list[float]]] = {"none": {}, "hog": {}}
        command = HOG if args.normal else ["chrt", "-i", "0", *HOG]
        for _ in range(args.rounds):
            for label in ("none", "hog"):
                hog = subprocess.Popen(command) if label == "hog" else None
                if hog:
                    time.sleep(0.2)
                try:
                    for name, values in measure(system, client, args.samples).items():
                        figures[label].setdefault(name, []).extend(values)
                finally:
                    if hog:
                        hog.kill()
                        hog.wait()
        print(f"idle_hog: {args.rounds} rounds of {args.samples} samples, hog at "
              f"{'normal priority' if args.normal else 'SCHED_IDLE'}")
        for name, none in figures["none"].items():
            hogged = figures["hog"][name]
            normal = percentile(none, 99)
            key = name.replace("+", "_").replace("-", "_")
            print(f"{key}_ms none p50={1000 * statistics.median(none):.1f} p99={1000 * normal:.1f} "
                  f"hog p50={1000 * statistics.median(hogged):.1f} p99={1000 * percentile(hogged, 99):.1f} "
                  f"over_none_p99={100 * sum(v > normal for v in hogged) / len(hogged):.1f}%")
    finally:
        system.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
