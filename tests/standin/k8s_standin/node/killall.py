"""Stop every container a stand-in kubelet started, like `k3s-killall.sh`.

Containers outlive the control-plane process on purpose (so a restarted kubelet
adopts them); this is how tests and node images clean up afterwards.

Run: python3 -m k8s_standin.node.killall KUBELET_ROOT_OR_DATA_DIR...
"""

from __future__ import annotations

import sys
from pathlib import Path

from .runtime import ContainerDir


def container_dirs(root: Path) -> list[ContainerDir]:
    # Accept a kubelet root (…/pods/<uid>/containers/<name>) or any directory above one.
    return [ContainerDir(p.parent) for p in root.glob("**/pods/*/containers/*/meta.json")]


def killall(*roots: Path) -> int:
    count = 0
    for root in roots:
        for cdir in container_dirs(root):
            state = cdir.state()
            if state is not None and state.running:
                count += 1
            cdir.kill_now()
    return count


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print(f"killed {killall(*(Path(a) for a in argv))} containers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
