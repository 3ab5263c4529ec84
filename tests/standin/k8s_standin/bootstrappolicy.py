"""The default ClusterRoles and ClusterRoleBindings kube-apiserver creates at start.

From kubernetes/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy (policy.go;
its testdata/cluster-roles.yaml at 025f2834 and cluster-role-bindings.yaml at c60df899
list the result), for the roles that matter to clients here: cluster-admin, the
user-facing admin/edit/view (aggregated from system:aggregate-to-*), system:basic-user,
system:discovery, system:public-info-viewer, system:monitoring, system:auth-delegator,
system:node, system:node-proxier, system:service-account-issuer-discovery. The
controllers' roles (system:kube-controller-manager, system:controller:*) are left out:
the stand-in's controllers run as system:masters. A rule naming a resource the
stand-in does not serve is kept, as upstream keeps it.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")
LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def rule(verbs: tuple[str, ...], groups: tuple[str, ...], resources: tuple[str, ...]) -> Obj:
    return {"verbs": list(verbs), "apiGroups": list(groups), "resources": list(resources)}


def urls(verbs: tuple[str, ...], paths: tuple[str, ...]) -> Obj:
    return {"verbs": list(verbs), "nonResourceURLs": list(paths)}


def _role(name: str, rules: list[Obj], labels: Obj | None = None, aggregate: str = "") -> Obj:
    role: Obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**LABEL, **(labels or {})},
            "annotations": AUTOUPDATE,
        },
        "rules": rules,
    }
    if aggregate:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [
                {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate}": "true"}}
            ]
        }
        role["rules"] = []
    return role


def _to(role: str) -> Obj:
    return {f"rbac.authorization.k8s.io/aggregate-to-{role}": "true"}


_VIEW = [
    rule(
        READ,
        ("",),
        (
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ),
    ),
    rule(
        READ,
        ("",),
        (
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ),
    ),
    rule(READ, ("",), ("namespaces",)),
    rule(READ, ("discovery.k8s.io",), ("endpointslices",)),
    rule(
        READ,
        ("apps",),
        (
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ),
    ),
    rule(READ, ("autoscaling",), ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
    rule(READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
    rule(READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
    rule(READ, ("networking.k8s.io",), ("ingresses", "ingresses/status", "networkpolicies")),
]

_EDIT = [
    rule(
        READ,
        ("",),
        (
            "pods/attach",
            "pods/exec",
            "pods/portforward",
            "pods/proxy",
            "secrets",
            "services/proxy",
        ),
    ),
    rule(("impersonate",), ("",), ("serviceaccounts",)),
    rule(WRITE, ("",), ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy")),
    rule(("create",), ("",), ("pods/eviction",)),
    rule(
        WRITE,
        ("",),
        (
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ),
    ),
    rule(("create",), ("",), ("serviceaccounts/token",)),
    rule(
        WRITE,
        ("apps",),
        (
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ),
    ),
    rule(WRITE, ("autoscaling",), ("horizontalpodautoscalers",)),
    rule(WRITE, ("batch",), ("cronjobs", "jobs")),
    rule(WRITE, ("policy",), ("poddisruptionbudgets",)),
    rule(WRITE, ("networking.k8s.io",), ("ingresses", "networkpolicies")),
    rule((*READ, *WRITE), ("coordination.k8s.io",), ("leases",)),
]

_ADMIN = [
    rule(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",)),
    rule((*WRITE, *READ), ("rbac.authorization.k8s.io",), ("rolebindings", "roles")),
]

#: system:node's rules (bootstrappolicy NodeRules). The Node authorizer grants them to
#: nodes, narrowed to the node's own objects upstream (see authz.py).
NODE_RULES = [
    rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
    rule(
        ("create",),
        ("authorization.k8s.io",),
        ("localsubjectaccessreviews", "subjectaccessreviews"),
    ),
    rule(READ, ("",), ("services",)),
    rule(("create", "get", "list", "watch"), ("",), ("nodes",)),
    rule(("patch", "update"), ("",), ("nodes/status",)),
    rule(("patch", "update"), ("",), ("nodes",)),
    rule(("create", "patch", "update"), ("",), ("events",)),
    rule(READ, ("",), ("pods",)),
    rule(("create", "delete"), ("",), ("pods",)),
    rule(("patch", "update"), ("",), ("pods/status",)),
    rule(("create",), ("",), ("pods/eviction",)),
    rule(READ, ("",), ("configmaps", "secrets")),
    rule(("get",), ("",), ("persistentvolumeclaims", "persistentvolumes")),
    rule(("get",), ("",), ("endpoints",)),
    rule(
        ("create", "get", "list", "watch"),
        ("certificates.k8s.io",),
        ("certificatesigningrequests",),
    ),
    rule(("create", "delete", "get", "patch", "update"), ("coordination.k8s.io",), ("leases",)),
    rule(("get",), ("storage.k8s.io",), ("volumeattachments",)),
    rule(("create",), ("",), ("serviceaccounts/token",)),
    rule(("get", "patch", "update"), ("",), ("persistentvolumeclaims/status",)),
    rule(READ, ("storage.k8s.io",), ("csidrivers",)),
    rule(("create", "delete", "get", "patch", "update"), ("storage.k8s.io",), ("csinodes",)),
    rule(READ, ("node.k8s.io",), ("runtimeclasses",)),
]

NODE_PROXIER_RULES = [
    rule(("list", "watch"), ("",), ("endpoints", "services")),
    rule(READ, ("",), ("nodes",)),
    rule(("create", "patch", "update"), ("", "events.k8s.io"), ("events",)),
    rule(("list", "watch"), ("discovery.k8s.io",), ("endpointslices",)),
]

CLUSTER_ROLES: list[Obj] = [
    _role("cluster-admin", [rule(("*",), ("*",), ("*",)), urls(("*",), ("*",))]),
    _role("admin", [], aggregate="admin"),
    _role("edit", [], labels=_to("admin"), aggregate="edit"),
    _role("view", [], labels=_to("edit"), aggregate="view"),
    _role("system:aggregate-to-admin", _ADMIN, labels=_to("admin")),
    _role("system:aggregate-to-edit", _EDIT, labels=_to("edit")),
    _role("system:aggregate-to-view", _VIEW, labels=_to("view")),
    _role(
        "system:basic-user",
        [
            rule(
                ("create",),
                ("authorization.k8s.io",),
                ("selfsubjectaccessreviews", "selfsubjectrulesreviews"),
            ),
            rule(("create",), ("authentication.k8s.io",), ("selfsubjectreviews",)),
        ],
    ),
    _role(
        "system:discovery",
        [
            urls(
                ("get",),
                (
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ),
            )
        ],
    ),
    _role(
        "system:public-info-viewer",
        [urls(("get",), ("/healthz", "/livez", "/readyz", "/version", "/version/"))],
    ),
    _role(
        "system:monitoring",
        [
            urls(
                ("get",),
                (
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/metrics/slis",
                    "/readyz",
                    "/readyz/*",
                ),
            )
        ],
    ),
    _role(
        "system:auth-delegator",
        [
            rule(("create",), ("authentication.k8s.io",), ("tokenreviews",)),
            rule(("create",), ("authorization.k8s.io",), ("subjectaccessreviews",)),
        ],
    ),
    _role("system:node", NODE_RULES),
    _role("system:node-proxier", NODE_PROXIER_RULES),
    _role(
        "system:service-account-issuer-discovery",
        [urls(("get",), ("/.well-known/openid-configuration", "/openid/v1/jwks"))],
    ),
]


def _binding(name: str, subjects: list[Obj], role: str = "") -> Obj:
    binding: Obj = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(LABEL), "annotations": AUTOUPDATE},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": role or name,
        },
    }
    if subjects:
        binding["subjects"] = subjects
    return binding


def group(name: str) -> Obj:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def user(name: str) -> Obj:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


CLUSTER_ROLE_BINDINGS: list[Obj] = [
    _binding("cluster-admin", [group("system:masters")]),
    _binding("system:basic-user", [group("system:authenticated")]),
    _binding("system:discovery", [group("system:authenticated")]),
    _binding(
        "system:public-info-viewer",
        [group("system:authenticated"), group("system:unauthenticated")],
    ),
    _binding("system:monitoring", [group("system:monitoring")]),
    # No subjects since 1.8: the Node authorizer grants nodes these rules.
    _binding("system:node", []),
    _binding("system:node-proxier", [user("system:kube-proxy")]),
    _binding("system:service-account-issuer-discovery", [group("system:serviceaccounts")]),
]
