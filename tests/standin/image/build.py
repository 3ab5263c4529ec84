"""Build every stand-in image: ``python tests/standin/image/build.py [--quiet]``.

Safe to rerun: images that are up to date are kept, so a second run takes a second or two.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make ``image`` importable the way pytest's pythonpath setting does.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker
import requests

from image.builder import ensure_images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the stand-in images used by the tests.")
    parser.add_argument("--quiet", action="store_true", help="print only the image refs")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        if not args.quiet:
            print(message, flush=True)

    started = time.monotonic()
    try:
        client = docker.from_env()
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        print(f"error: no Docker engine answers ({exc}); start dockerd first", file=sys.stderr)
        return 2
    images = ensure_images(client, progress)
    progress(f"stand-in images ready in {time.monotonic() - started:.1f} s:")
    print(images.base)
    for image in images.all():
        print(image.ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
