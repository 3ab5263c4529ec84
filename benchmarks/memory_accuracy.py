"""How close the node memory reading is to a known allocation: bound 5 %.

A container from the stand-in base image runs ``python3 -c`` that allocates and
touches N MiB and then sleeps; a second one allocates nothing. The difference of
their working sets, read from the host (cgroup files) and through the engine's
stats API, is compared with N. Usage:

    python benchmarks/memory_accuracy.py [--sizes 64,256,512] [--window 3]
"""

from __future__ import annotations

import argparse
import sys

import docker
from _containers import base_image, container, wait_for_log

from pytest_k8sdistro.measure.footprint import memory, sampler

MIB = 1024 * 1024
BOUND = 0.05
HOLD = (
    "import sys, time\n"
    "n = int(sys.argv[1]) * 1024 * 1024\n"
    "block = bytearray(n)\n"
    "for i in range(0, n, 4096):\n"
    "    block[i] = 1\n"
    "print('holding', flush=True)\n"
    "time.sleep(3600)\n"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,512")
    parser.add_argument("--window", type=float, default=3.0)
    args = parser.parse_args(argv)
    client = docker.from_env()
    image = base_image(client)
    worst = 0.0
    with container(client, image, ["python3", "-c", HOLD, "0"]) as idle:
        wait_for_log(idle, "holding")
        readers = {
            "cgroup files": memory.ContainerMemory(idle),
            "engine stats": memory.EngineStatsMemory(idle),
        }
        base = {name: sampler.sample(r.read, args.window).median for name, r in readers.items()}
        print(
            "baseline (python3, nothing allocated): "
            + ", ".join(f"{n} {v / MIB:.1f} MiB" for n, v in base.items())
        )
        print(f"{'held MiB':>9} {'reader':<13} {'measured MiB':>13} {'error':>7}")
        for size in (int(s) for s in args.sizes.split(",")):
            with container(client, image, ["python3", "-c", HOLD, str(size)]) as held:
                wait_for_log(held, "holding")
                for name, reader in (
                    ("cgroup files", memory.ContainerMemory(held)),
                    ("engine stats", memory.EngineStatsMemory(held)),
                ):
                    value = sampler.sample(reader.read, args.window).median - base[name]
                    error = abs(value - size * MIB) / (size * MIB)
                    worst = max(worst, error)
                    print(f"{size:>9} {name:<13} {value / MIB:>13.1f} {error:>7.2%}")
    print(f"worst error {worst:.2%} (bound {BOUND:.0%}): {'OK' if worst <= BOUND else 'FAIL'}")
    return 0 if worst <= BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
