"""The resource types the stand-in serves, with what discovery says about them."""

from __future__ import annotations

import threading
from dataclasses import dataclass

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str  # "" for core
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "finalize"
    categories: tuple[str, ...] = ()
    # Types upstream lets a PUT create (AllowCreateOnUpdate).
    create_on_update: bool = False
    verbs: tuple[str, ...] = VERBS
    #: Served for a CustomResourceDefinition (crds.py), not built in.
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


_ALL = ("all",)
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",), ("status", "finalize")),
    Resource("", "v1", "Node", "nodes", False, ("no",), ("status",), create_on_update=False),
    Resource(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        ("status", "log", "eviction", "binding", "exec", "attach", "portforward"),
        _ALL,
    ),
    Resource("", "v1", "Service", "services", True, ("svc",), ("status",), _ALL),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",), create_on_update=True),
    Resource("", "v1", "Event", "events", True, ("ev",)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), ("status",)),
    Resource(
        "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), ("status",)
    ),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",), ("token",)),
    Resource("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), ("status",)),
    Resource(
        "apps", "v1", "Deployment", "deployments", True, ("deploy",), ("status", "scale"), _ALL
    ),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), ("status", "scale"), _ALL),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), ("status",), _ALL),
    Resource(
        "apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), ("status", "scale"), _ALL
    ),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    Resource("batch", "v1", "Job", "jobs", True, (), ("status",), _ALL),
    Resource("batch", "v1", "CronJob", "cronjobs", True, ("cj",), ("status",), _ALL),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), ("status",)),
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
    Resource("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    Resource(
        "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), ("status",)
    ),
    Resource(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("status",),
        ("api-extensions",),
    ),
    Resource(
        "discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True, create_on_update=True
    ),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True, create_on_update=True),
    # Answered, never stored (authz.py decides).
    Resource(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        False,
        verbs=("create",),
    ),
    # -- access control (authn.py, authz.py, bootstrappolicy.py) --
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        False,
        verbs=("create",),
    ),
    Resource(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        True,
        verbs=("create",),
    ),
    Resource(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        False,
        verbs=("create",),
    ),
)
#: The aggregation layer and metrics-server's group (metrics.py): NodeMetrics and
#: PodMetrics are answered, never stored, and served only while the APIService
#: v1beta1.metrics.k8s.io exists (AGGREGATED).
RESOURCES += (
    Resource(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        False,
        (),
        ("status",),
        ("api-extensions",),
    ),
    Resource("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", False, verbs=("get", "list")),
    Resource("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", True, verbs=("get", "list")),
)
#: Groups an extension API server serves, by the APIService that registers them.
AGGREGATED: dict[str, str] = {"metrics.k8s.io": "v1beta1.metrics.k8s.io"}
REVIEW_KINDS = {
    "SelfSubjectAccessReview",
    "SubjectAccessReview",
    "LocalSubjectAccessReview",
    "SelfSubjectReview",
}
#: Kinds of rbac.authorization.k8s.io, which have no spec.
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

# Groups in the order discovery lists them (core first, like upstream's priority).
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(r.group for r in RESOURCES))

# The resources of established CustomResourceDefinitions, replaced whole by
# set_custom() whenever a CRD changes; readers take the tuple without a lock.
_custom: tuple[Resource, ...] = ()
_custom_lock = threading.Lock()


def set_custom(custom: tuple[Resource, ...]) -> None:
    global _custom
    with _custom_lock:
        _custom = custom


def served() -> tuple[Resource, ...]:
    """Every resource served now: the built-in ones, then the custom ones."""
    return RESOURCES + _custom


def groups() -> tuple[str, ...]:
    """Groups served now, built-in ones first, as upstream orders discovery."""
    return tuple(dict.fromkeys(r.group for r in served()))


def find(group: str, version: str, plural: str) -> Resource | None:
    for res in served():
        if res.group == group and res.version == version and res.plural == plural:
            return res
    return None


def get(group: str, version: str, plural: str) -> Resource:
    """Like find() for resources the code itself names; a typo fails at import."""
    res = find(group, version, plural)
    if res is None:
        raise KeyError(f"{group}/{version}/{plural}")
    return res


def by_kind(api_version: str, kind: str) -> Resource | None:
    for res in served():
        if res.api_version == api_version and res.kind == kind:
            return res
    return None


def group_versions(group: str) -> list[str]:
    return list(dict.fromkeys(r.version for r in served() if r.group == group))
