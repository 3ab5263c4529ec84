"""Discovery documents: the legacy per-group lists and aggregated discovery (v2).

kubectl 1.26+ asks for aggregated discovery first and falls back to the legacy
documents when the server answers with plain JSON; both are served so either path
of a client works.
"""

from __future__ import annotations

from typing import Any

from .resources import Resource, group_versions, groups, served

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
Obj = dict[str, Any]

_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "scale": ["get", "patch", "update"],
    "log": ["get"],
    "finalize": ["update"],
    "eviction": ["create"],
    "binding": ["create"],
    "token": ["create"],
    # Streaming subresources: connect verbs, as upstream lists them.
    "exec": ["create", "get"],
    "attach": ["create", "get"],
    "portforward": ["create", "get"],
}
_STREAM_KINDS = {
    "exec": "PodExecOptions",
    "attach": "PodAttachOptions",
    "portforward": "PodPortForwardOptions",
}


def _sub_kind(res: Resource, sub: str) -> tuple[str, str, str]:
    if sub == "scale":
        return "autoscaling", "v1", "Scale"
    if sub == "eviction":
        return "policy", "v1", "Eviction"
    if sub == "binding":
        return "", "v1", "Binding"
    if sub == "token":
        return "authentication.k8s.io", "v1", "TokenRequest"
    if sub in _STREAM_KINDS:
        return "", "v1", _STREAM_KINDS[sub]
    return res.group, res.version, res.kind


def _verbs(res: Resource) -> list[str]:
    return list(res.verbs)


def resource_list(group: str, version: str) -> Obj:
    resources: list[Obj] = []
    for res in served():
        if res.group != group or res.version != version:
            continue
        entry: Obj = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": _verbs(res),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        resources.append(entry)
        for sub in res.subresources:
            g, v, k = _sub_kind(res, sub)
            sub_entry: Obj = {
                "name": f"{res.plural}/{sub}",
                "singularName": "",
                "namespaced": res.namespaced,
                "kind": k,
                "verbs": _SUB_VERBS[sub],
            }
            if sub in ("scale", "eviction", "token"):
                sub_entry.update(group=g, version=v)
            resources.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


def api_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group(group: str) -> Obj:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in group_versions(group)]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def api_group_list(hidden: frozenset[str] = frozenset()) -> Obj:
    """``hidden``: groups of extension API servers not registered (resources.AGGREGATED)."""
    listed = [api_group(g) for g in groups() if g and g not in hidden]
    for g in listed:
        g.pop("kind")
        g.pop("apiVersion")
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": listed}


def aggregated(core: bool, hidden: frozenset[str] = frozenset()) -> Obj:
    items: list[Obj] = []
    for group in groups():
        if (group == "") != core or group in hidden:
            continue
        versions: list[Obj] = []
        for version in group_versions(group):
            resources: list[Obj] = []
            for res in served():
                if res.group != group or res.version != version:
                    continue
                entry: Obj = {
                    "resource": res.plural,
                    "responseKind": {"group": group, "version": version, "kind": res.kind},
                    "scope": "Namespaced" if res.namespaced else "Cluster",
                    "singularResource": res.singular,
                    "verbs": _verbs(res),
                }
                if res.short_names:
                    entry["shortNames"] = list(res.short_names)
                if res.categories:
                    entry["categories"] = list(res.categories)
                subs = []
                for sub in res.subresources:
                    g, v, k = _sub_kind(res, sub)
                    subs.append(
                        {
                            "subresource": sub,
                            "responseKind": {"group": g, "version": v, "kind": k},
                            "verbs": _SUB_VERBS[sub],
                        }
                    )
                if subs:
                    entry["subresources"] = subs
                resources.append(entry)
            versions.append({"version": version, "resources": resources, "freshness": "Current"})
        item: Obj = {"metadata": {"name": group} if group else {}, "versions": versions}
        items.append(item)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str) -> bool:
    for part in accept.split(","):
        params = {p.strip() for p in part.split(";")}
        if {"g=apidiscovery.k8s.io", "v=v2", "as=APIGroupDiscoveryList"} <= params:
            return True
    return False
