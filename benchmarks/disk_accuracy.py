"""The install-disk measurement against a known tree: exact.

A container from the stand-in base image builds a tree whose regular files add up
to a known number of bytes: random sizes (fixed seed), empty files, nested
directories, a hard link (counted once), a symlink (counted nothing) and a sparse
file (its apparent size). The measurement through the engine's archive must equal
the sum to the byte. Usage:

    python benchmarks/disk_accuracy.py [--files 400] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import docker
from _containers import base_image, container, wait_for_log

from pytest_k8sdistro.measure.footprint import disk

BUILD = """
import json, os, sys
sizes = json.loads(sys.argv[1])
root = "/tree"
for index, size in enumerate(sizes):
    directory = os.path.join(root, f"d{index % 7}", f"e{index % 3}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"f{index}"), "wb") as handle:
        handle.write(os.urandom(size))
os.link(os.path.join(root, "d0", "e0", "f0"), os.path.join(root, "hardlink"))
os.symlink("d1/e1/f1", os.path.join(root, "symlink"))
with open(os.path.join(root, "sparse"), "wb") as handle:
    handle.truncate(int(sys.argv[2]))
print("built", flush=True)
import time; time.sleep(3600)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    sizes = [0, 0, 1, 4095, 4096, 4097] + [rng.randrange(0, 300_000) for _ in range(args.files)]
    sparse = 50 * 1024 * 1024
    expected = sum(sizes) + sparse
    client = docker.from_env()
    with container(
        client, base_image(client), ["python3", "-c", BUILD, json.dumps(sizes), str(sparse)]
    ) as made:
        wait_for_log(made, "built", timeout=120)
        started = time.monotonic()
        usage = disk.container_usage(made, ["/tree", "/no/such/path"], image=None)
        took = time.monotonic() - started
    measured = usage.paths["/tree"]
    print(f"files written: {len(sizes) + 1} regular (+1 hard link, 1 symlink)")
    print(f"expected bytes: {expected}")
    print(f"measured bytes: {measured} in {usage.files} files, {took:.2f} s")
    print(f"missing paths reported: {list(usage.missing)}")
    exact = measured == expected and usage.files == len(sizes) + 1
    print("exact: OK" if exact else f"FAIL: off by {measured - expected} bytes")
    return 0 if exact and usage.missing == ("/no/such/path",) else 1


if __name__ == "__main__":
    sys.exit(main())
