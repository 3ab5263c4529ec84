"""The sampler's own CPU cost per reading, and as a share of one core.

Reads a running container's memory for a window at a given interval with each
reader (cgroup files, with and without following the container's processes, and
the engine's stats API) and reports this process's CPU time per sample. Usage:

    python benchmarks/sampler_cost.py [--window 10] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import sys

import docker
from _containers import base_image, container, wait_for_log

from pytest_k8sdistro.measure.footprint import memory, sampler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    client = docker.from_env()
    script = "import time; print('up', flush=True); time.sleep(3600)"
    with container(client, base_image(client), ["python3", "-c", script]) as made:
        wait_for_log(made, "up")
        readers = {
            "cgroup files": memory.ContainerMemory(made, follow_processes=False),
            "cgroup files + processes": memory.ContainerMemory(made),
            "engine stats API": memory.EngineStatsMemory(made),
        }
        print(f"window {args.window:g} s, interval {args.interval:g} s")
        print(f"{'reader':<26} {'samples':>7} {'CPU/sample':>11} {'CPU share':>10}")
        for name, reader in readers.items():
            summary = sampler.sample(reader.read, args.window, interval_s=args.interval)
            per = summary.cpu_per_sample_s
            share = per * summary.samples / summary.window_s
            print(f"{name:<26} {summary.samples:>7} {per * 1000:>8.2f} ms {share:>9.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
