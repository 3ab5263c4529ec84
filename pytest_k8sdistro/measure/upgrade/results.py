"""The upgrade suite's result: its schema, written by the suite and read by the report.

One JSON document per upgrade test, in ``<run dir>/k8sdistro-upgrade/``, and its
figures (without the probe timeline) as the test's ``user_properties`` under
:data:`PROPERTY`, with the file's path under :data:`FILE_PROPERTY`. The report
imports these names; nothing else spells them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pytest_k8sdistro.distros.distro import Distro
from pytest_k8sdistro.measure.upgrade.plan import UpgradePlan
from pytest_k8sdistro.measure.upgrade.prober import Prober, Summary
from pytest_k8sdistro.model.cluster import Cluster

#: The test's figures (a dict without the timeline).
PROPERTY = "k8sdistro_upgrade"
#: The path of the result file, which holds the timeline too.
FILE_PROPERTY = "k8sdistro_upgrade_file"
RESULTS_DIR = "k8sdistro-upgrade"
#: The columns of each timeline row.
TIMELINE_COLUMNS = ("at_s", "latency_ms", "status", "error")


def build(
    plan: UpgradePlan,
    cluster: Cluster,
    distro: Distro,
    *,
    path: str,
    procedure: str,
    before_versions: dict[str, str],
    new_versions: dict[str, str],
    upgrade_s: float | None,
    version_s: float | None,
    workload: Prober,
    control_plane: Prober,
    workload_summary: Summary,
    control_summary: Summary,
    marks: list[dict[str, Any]],
) -> dict[str, Any]:
    offset = (control_plane.started_at or 0.0) - (workload.started_at or 0.0)
    hitless = workload_summary.failed_requests == 0
    return {
        "distro": distro.name,
        "provisioner": cluster.provisioner,
        "cluster": cluster.key,
        "from_version": plan.source,
        "to_version": plan.target,
        "kind": plan.kind,
        "procedure": procedure or distro.profile.upgrade.summary,
        "image": plan.image,
        "workload_path": path,
        "node_versions_before": before_versions,
        "node_versions_after": new_versions,
        "upgrade_procedure_s": None if upgrade_s is None else round(upgrade_s, 3),
        "time_to_new_version_s": None if version_s is None else round(version_s, 3),
        "workload": workload_summary.to_dict(),
        "control_plane": control_summary.to_dict(),
        "expectation": {
            "hitless": distro.expectations.hitless_upgrade,
            "max_downtime_s": plan.max_downtime,
        },
        "verdict": "no workload downtime"
        if hitless
        else f"{workload_summary.total_failed_s:.2f}s of workload downtime",
        "timeline": {
            "started": workload.started_wall,
            "interval_s": plan.probe_interval,
            "marks": marks,
            "columns": list(TIMELINE_COLUMNS),
            "workload": [s.row() for s in workload.samples()],
            # Shifted onto the workload prober's clock.
            "control_plane": [
                [round(s.at + offset, 4), *s.row()[1:]] for s in control_plane.samples()
            ],
        },
    }


def record(result: dict[str, Any], run_dir: Path, cluster: Cluster, item: Any) -> None:
    """Write the result file and put the figures (not the timeline) into user_properties,
    replacing what an earlier call put there."""
    directory = run_dir / RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{cluster.key}-{int(time.time())}.json"
    result.setdefault("file", str(path))
    Path(result["file"]).write_text(json.dumps(result, indent=1, default=str))
    figures = {k: v for k, v in result.items() if k != "timeline"}
    for key in ("workload", "control_plane"):
        figures[key] = {k: v for k, v in result[key].items() if k != "outages"}
    keys = (PROPERTY, FILE_PROPERTY)
    item.user_properties[:] = [p for p in item.user_properties if p[0] not in keys]
    item.user_properties += [(PROPERTY, figures), (FILE_PROPERTY, result["file"])]
