"""Authorization: request attributes, the RBAC authorizer, the Node authorizer's stand-in.

Request attributes as k8s.io/apiserver pkg/endpoints/request/requestinfo.go derives them:
the verb from the method (GET an item: get, a collection: list, with watch=true: watch;
POST: create; PUT: update; PATCH: patch; DELETE an item: delete, a collection:
deletecollection), the namespace (a namespace object is its own namespace), resource,
subresource, name, API group; other paths are non-resource URLs with the lowercased
method as verb.

RBAC as plugin/pkg/auth/authorizer/rbac/rbac.go: ClusterRoleBindings, then
RoleBindings of the request's namespace; a rule allows when its verbs, apiGroups,
resources ("resource/subresource", "*", "*/subresource") and resourceNames match, or
for non-resource URLs when the path matches exactly or by a trailing "*". Aggregated
ClusterRoles are read with the rules the aggregation controller wrote
(controllers.py). Requests of system:masters are always allowed (the
cluster-admin binding upstream, and the privileged group short-circuit).

Modes: "AlwaysAllow" admits every request (microk8s without its rbac addon);
"Node,RBAC" asks the Node authorizer, then RBAC (k3s, k0s, microk8s's rbac addon).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import bootstrappolicy
from .authn import MASTERS, User

Obj = dict[str, Any]
_VERB_OF = {"POST": "create", "PUT": "update", "PATCH": "patch"}


@dataclass(frozen=True)
class Attributes:
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def qualified(self) -> str:
        """`secrets`, `deployments.apps`: how upstream names a resource in messages."""
        return f"{self.resource}.{self.api_group}" if self.api_group else self.resource


def attributes(method: str, path: str, args: Any) -> Attributes:
    """The attributes of a request for ``path`` (already without a trailing slash)."""
    parts = path.strip("/").split("/") if path.strip("/") else []
    lowered = method.lower()
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Attributes(verb=lowered, resource_request=False, path=path or "/")
    if not rest:  # /api/v1, /apis/apps/v1: discovery documents
        return Attributes(verb=lowered, resource_request=False, path=path)
    ns = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        ns, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        ns = rest[1]  # a namespace is its own namespace (requestinfo.go)
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    watch = (args.get("watch") or "") in ("1", "true", "True")
    if method in ("GET", "HEAD"):
        verb = "watch" if watch else ("get" if name else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _VERB_OF.get(method, lowered)
    if verb in ("list", "watch") and not name:
        # A watch or list with fieldSelector metadata.name=X is for that name.
        selector = args.get("fieldSelector") or ""
        for term in selector.split(","):
            key, _, value = term.partition("=")
            if key.strip() == "metadata.name" and value:
                name = value.lstrip("=")
    return Attributes(
        verb=verb,
        resource_request=True,
        path=path,
        namespace=ns,
        api_group=group,
        api_version=version,
        resource=resource,
        subresource=sub,
        name=name,
    )


def rule_allows(rule: Obj, attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == attrs.path:
                return True
            if url.endswith("*") and attrs.path.startswith(url[:-1]):
                return True
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.api_group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or []
    if not (
        "*" in resources
        or combined in resources
        or (attrs.subresource and f"*/{attrs.subresource}" in resources)
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def subject_matches(subject: Obj, user: User, binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return bool(subject.get("name") == user.name)
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"system:serviceaccount:{ns}:{subject.get('name')}"
    return False


#: Lists stored objects: (resource plural, namespace or None) -> items.
Lister = Callable[[str, str | None], list[Obj]]


class Authorizer:
    def __init__(self, mode: str, lister: Lister) -> None:
        self.modes = tuple(m.strip() for m in mode.split(",") if m.strip())
        self.lister = lister

    @property
    def rbac(self) -> bool:
        return "RBAC" in self.modes

    def authorize(self, user: User, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason); reason as upstream gives it (RBAC: "", a binding's name
        when allowed)."""
        if MASTERS in user.groups:
            return True, ""
        for mode in self.modes:
            if mode == "AlwaysAllow":
                return True, ""
            if mode == "AlwaysDeny":
                return False, ""
            if mode == "Node" and self._node_allows(user, attrs):
                return True, ""
            if mode == "RBAC":
                reason = self._rbac_allows(user, attrs)
                if reason is not None:
                    return True, reason
        return False, ""

    def _node_allows(self, user: User, attrs: Attributes) -> bool:
        """The Node authorizer, approximated: nodes get system:node's rules and reads
        of everything, without narrowing to their own pods' objects (its graph is not
        modelled). The node side's add-on pods (CoreDNS, Traefik, svclb, the local-path
        provisioner) use the node's credentials where upstream each has a
        ServiceAccount, so their writes (Ingress status, PersistentVolumes) count too."""
        if "system:nodes" not in user.groups or not user.name.startswith("system:node:"):
            return False
        if attrs.verb in ("get", "list", "watch") or not attrs.resource_request:
            return True
        rules = [
            *bootstrappolicy.NODE_RULES,
            *bootstrappolicy.NODE_PROXIER_RULES,
            bootstrappolicy.rule(
                ("patch", "update"), ("networking.k8s.io",), ("ingresses/status",)
            ),
            bootstrappolicy.rule(("create", "delete"), ("",), ("persistentvolumes",)),
            bootstrappolicy.rule(("create", "patch", "update"), ("events.k8s.io",), ("events",)),
        ]
        return any(rule_allows(r, attrs) for r in rules)

    def _rules_of(self, ref: Obj, ns: str) -> Iterable[Obj]:
        kind, name = ref.get("kind"), ref.get("name")
        if kind == "ClusterRole":
            items = self.lister("clusterroles", None)
        elif kind == "Role":
            items = self.lister("roles", ns)
        else:
            return ()
        for role in items:
            if role["metadata"]["name"] == name:
                return role.get("rules") or ()
        return ()

    def _rbac_allows(self, user: User, attrs: Attributes) -> str | None:
        for binding in self.lister("clusterrolebindings", None):
            if not any(subject_matches(s, user, "") for s in binding.get("subjects") or []):
                continue
            if any(rule_allows(r, attrs) for r in self._rules_of(binding.get("roleRef", {}), "")):
                return f'RBAC: allowed by ClusterRoleBinding "{binding["metadata"]["name"]}"'
        if not attrs.namespace:
            return None
        for binding in self.lister("rolebindings", attrs.namespace):
            ns = attrs.namespace
            if not any(subject_matches(s, user, ns) for s in binding.get("subjects") or []):
                continue
            if any(rule_allows(r, attrs) for r in self._rules_of(binding.get("roleRef", {}), ns)):
                return f'RBAC: allowed by RoleBinding "{binding["metadata"]["name"]}/{ns}"'
        return None


def forbidden_message(user: User, attrs: Attributes, reason: str = "") -> str:
    """handlers/responsewriters/errors.go forbiddenMessage, then ": reason"."""
    if not attrs.resource_request:
        text = f'forbidden: User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        scope = (
            f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        )
        text = (
            f'User "{user.name}" cannot {attrs.verb} resource "{resource}" in API group '
            f'"{attrs.api_group}" {scope}'
        )
        head = attrs.qualified + (f' "{attrs.name}"' if attrs.name else "")
        text = f"{head} is forbidden: {text}"
    return f"{text}: {reason}" if reason else text


def aggregate(roles: list[Obj]) -> dict[str, list[Obj]]:
    """Rules each aggregated ClusterRole should hold: the clusterrole-aggregation
    controller's union of the rules of every role its selectors match (matchLabels)."""
    out: dict[str, list[Obj]] = {}
    for role in roles:
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if not selectors:
            continue
        rules: list[Obj] = []
        for other in roles:
            if other is role:
                continue
            labels = other["metadata"].get("labels") or {}
            for selector in selectors:
                wanted = selector.get("matchLabels") or {}
                if wanted and all(labels.get(k) == v for k, v in wanted.items()):
                    for r in other.get("rules") or []:
                        if r not in rules:
                            rules.append(r)
                    break
        out[role["metadata"]["name"]] = rules
    return out
