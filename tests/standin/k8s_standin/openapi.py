"""Just enough OpenAPI v3 for kubectl: one PATCH operation per kind, tagged with its
group-version-kind and the `fieldValidation` query parameter.

kubectl reads this to learn that the server validates fields itself; it then skips
client-side schema validation, which would need the full schemas the stand-in does
not have. No component schemas are served: clients that need them fall back to
their compiled-in types.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import group_versions, groups, served

Obj = dict[str, Any]
_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def gv_document(group: str, version: str) -> Obj | None:
    paths: Obj = {}
    for res in served():
        if res.group != group or res.version != version:
            continue
        base = "/" + _gv_path(group, version)
        scope = "/namespaces/{namespace}" if res.namespaced else ""
        gvk = {"group": group, "version": version, "kind": res.kind}
        patch_op = {
            "operationId": f"patch{res.kind}",
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch",
            "parameters": [
                {"name": p, "in": "query", "schema": {"type": "string"}} for p in _PARAMS
            ],
            "responses": {"200": {"description": "OK"}},
        }
        paths[f"{base}{scope}/{res.plural}/{{name}}"] = {"patch": patch_op}
    if not paths:
        return None
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "standin"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def root() -> Obj:
    paths: Obj = {}
    for group in groups():
        for version in group_versions(group):
            doc = gv_document(group, version)
            digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]
            rel = _gv_path(group, version)
            paths[rel] = {"serverRelativeURL": f"/openapi/v3/{rel}?hash={digest.upper()}"}
    return {"paths": paths}
