"""Defaulting and validation of the fields clients commonly depend on.

Upstream defaults every field of every type; the stand-in covers what tests and
kubectl output look at (pod restart and DNS policy, container pull policy,
workload strategies) and rejects what upstream rejects most often.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from .errors import Causes
from .resources import RBAC_KINDS, Resource
from .selectors import match_labels

Obj = dict[str, Any]

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
# Kinds whose names must be DNS-1123 labels (63 chars), not subdomains.
_LABEL_NAMED = {"Namespace", "Service"}


def validate_name(res: Resource, obj: Obj, causes: Causes) -> None:
    name = obj.get("metadata", {}).get("name") or ""
    if not name:
        causes.required("metadata.name")
        return
    if res.kind in _LABEL_NAMED:
        if len(name) > 63 or not _DNS1123_LABEL.match(name):
            causes.invalid(
                "metadata.name",
                name,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-', and must start and end with an alphanumeric character",
            )
    elif res.kind in RBAC_KINDS:
        # ValidateRBACName: any path segment name ("system:basic-user").
        if name in (".", "..") or "/" in name or "%" in name:
            causes.invalid("metadata.name", name, "may not contain '/' or '%'")
    elif res.kind not in ("Lease", "Event") and (
        len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)
    ):
        causes.invalid(
            "metadata.name",
            name,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character",
        )


def _pull_policy(image: str) -> str:
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_container(c: Obj) -> None:
    if c.get("image"):
        c.setdefault("imagePullPolicy", _pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    resources = c.setdefault("resources", {})
    # SetDefaults_Pod (core/v1 defaults.go): a limit without a request is the request.
    limits = resources.get("limits") if isinstance(resources, dict) else None
    if isinstance(limits, dict) and limits:
        requests = resources.setdefault("requests", {})
        for key, value in limits.items():
            requests.setdefault(key, value)
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        # SetDefaults_ObjectFieldSelector: a fieldRef without apiVersion means v1.
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
            field_ref["apiVersion"] = "v1"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            p = c[probe]
            p.setdefault("timeoutSeconds", 1)
            p.setdefault("periodSeconds", 10)
            p.setdefault("successThreshold", 1)
            p.setdefault("failureThreshold", 3)


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if "serviceAccount" in spec and "serviceAccountName" not in spec:
        spec["serviceAccountName"] = spec["serviceAccount"]
    spec.setdefault("serviceAccountName", "default")
    spec["serviceAccount"] = spec["serviceAccountName"]
    spec.setdefault("enableServiceLinks", True)
    for key in ("containers", "initContainers"):
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                _default_container(c)


def validate_pod_spec(spec: Any, path: str, causes: Causes) -> None:
    if not isinstance(spec, dict):
        causes.required(path)
        return
    containers = spec.get("containers")
    if not containers:
        causes.required(f"{path}.containers")
    seen: set[str] = set()
    for key in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(key) or []):
            where = f"{path}.{key}[{i}]"
            if not isinstance(c, dict):
                causes.invalid(where, c, "must be an object")
                continue
            name = c.get("name") or ""
            if not name:
                causes.required(f"{where}.name")
            elif not _DNS1123_LABEL.match(name) or len(name) > 63:
                causes.invalid(f"{where}.name", name, "a lowercase RFC 1123 label is required")
            elif name in seen:
                causes.items.append(
                    {
                        "reason": "FieldValueDuplicate",
                        "message": f'Duplicate value: "{name}"',
                        "field": f"{where}.name",
                    }
                )
            seen.add(name)
            if not c.get("image"):
                causes.required(f"{where}.image")
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        causes.unsupported(f"{path}.restartPolicy", policy, ["Always", "OnFailure", "Never"])


def default(res: Resource, obj: Obj) -> None:
    """Fill defaults in place (called on create and on update)."""
    spec = obj.setdefault("spec", {}) if res.kind not in _NO_SPEC else None
    kind = res.kind
    if kind == "Pod" and spec is not None:
        default_pod_spec(spec)
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", "BestEffort")
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet") and spec is not None:
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        if kind == "Deployment":
            # An empty type is RollingUpdate, as SetDefaults_Deployment has it: a protobuf
            # body (kubectl create deployment) always carries a strategy, `{}` when unset.
            strategy = spec.setdefault("strategy", {})
            if not strategy.get("type"):
                strategy["type"] = "RollingUpdate"
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
            spec.setdefault("progressDeadlineSeconds", 600)
        if kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            )
        if kind != "ReplicaSet":
            spec.setdefault("revisionHistoryLimit", 10)
        template = spec.get("template")
        if isinstance(template, dict):
            default_pod_spec(template.setdefault("spec", {}))
            template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        status = obj.setdefault("status", {})
        # int32 fields without omitempty upstream: always serialized, 0 until counted.
        # Clients treat them as required (the Python client rejects a status without them).
        for key in _REQUIRED_STATUS_COUNTS.get(kind, ()):
            status.setdefault(key, 0)
    elif kind == "StatefulSet" and spec is not None:
        _default_statefulset(spec)
        status = obj.setdefault("status", {})
        for key in ("replicas", "availableReplicas"):
            status.setdefault(key, 0)
    elif kind == "Job" and spec is not None:
        _default_job_spec(spec)
        obj.setdefault("status", {})
    elif kind == "CronJob" and spec is not None:
        # SetDefaults_CronJob; the job template's pod spec gets the pod defaults, its
        # Job fields none (the Job made from it is defaulted when it is created).
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        job_spec = (spec.get("jobTemplate") or {}).get("spec")
        if isinstance(job_spec, dict) and isinstance(job_spec.get("template"), dict):
            _default_template(job_spec["template"])
        obj.setdefault("status", {})
    elif kind == "PersistentVolumeClaim" and spec is not None:
        spec.setdefault("volumeMode", "Filesystem")
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif kind == "PersistentVolume" and spec is not None:
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")
        obj.setdefault("status", {}).setdefault("phase", "Pending")
    elif kind == "Namespace" and spec is not None:
        spec.setdefault("finalizers", ["kubernetes"])
        # Set (and reset) on every write since 1.22 (NamespaceDefaultLabelName).
        meta = obj.setdefault("metadata", {})
        if meta.get("name"):
            labels = meta.get("labels") or {}
            labels["kubernetes.io/metadata.name"] = meta["name"]
            meta["labels"] = labels
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == "StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
    elif kind == "Secret":
        if not obj.get("type"):
            obj["type"] = "Opaque"
        # stringData is write-only: upstream folds it into data on every write.
        for key, value in (obj.pop("stringData", None) or {}).items():
            obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
    elif kind == "Node" and spec is not None:
        obj.setdefault("status", {})
    elif kind == "NetworkPolicy" and spec is not None:
        # SetDefaults_NetworkPolicy: Ingress always, Egress when egress rules exist.
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress", *(["Egress"] if spec.get("egress") else [])]
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for port in (rule or {}).get("ports") or []:
                    port.setdefault("protocol", "TCP")
    elif kind == "EndpointSlice":
        # discovery/v1 SetDefaults_EndpointPort: name "" and protocol TCP when unset.
        for port in obj.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("name", "")
                port.setdefault("protocol", "TCP")
    elif kind == "Endpoints":
        # core/v1 SetDefaults_EndpointPort: protocol TCP when unset.
        for subset in obj.get("subsets") or []:
            for port in (subset or {}).get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")
    elif kind == "Ingress" and spec is not None:
        obj.setdefault("status", {"loadBalancer": {}})


def _default_template(template: Obj) -> None:
    default_pod_spec(template.setdefault("spec", {}))
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)


def _default_statefulset(spec: Obj) -> None:
    """apps/v1 SetDefaults_StatefulSet (StatefulSetAutoDeletePVC is GA: the retention
    policy is always set)."""
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            claim.setdefault("apiVersion", "v1")
            claim.setdefault("kind", "PersistentVolumeClaim")
            claim.setdefault("metadata", {}).setdefault("creationTimestamp", None)
            claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
            claim.setdefault("status", {}).setdefault("phase", "Pending")
    if isinstance(spec.get("template"), dict):
        _default_template(spec["template"])


def _default_job_spec(spec: Obj) -> None:
    """batch/v1 SetDefaults_Job: without completions and parallelism both are 1;
    parallelism alone leaves completions unset (a work queue)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault(
        "podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    )
    spec.setdefault("manualSelector", False)
    if isinstance(spec.get("template"), dict):
        _default_template(spec["template"])


JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def generate_job_selector(obj: Obj) -> None:
    """The Job strategy's PrepareForCreate (pkg/registry/batch/job/strategy.go
    generateSelector): unless manualSelector, the template gets the controller-uid and
    job-name labels (and their legacy unprefixed twins) and the selector is the uid."""
    spec = obj.get("spec") or {}
    if spec.get("manualSelector"):
        return
    meta = obj["metadata"]
    uid, name = meta["uid"], meta["name"]
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).get("labels") or {}
    labels.update(
        {JOB_UID_LABEL: uid, JOB_NAME_LABEL: name, "controller-uid": uid, "job-name": name}
    )
    spec["template"]["metadata"]["labels"] = labels
    if spec.get("selector") is None:
        spec["selector"] = {"matchLabels": {JOB_UID_LABEL: uid}}


_REQUIRED_STATUS_COUNTS = {
    "DaemonSet": (
        "currentNumberScheduled",
        "numberMisscheduled",
        "desiredNumberScheduled",
        "numberReady",
    ),
    "ReplicaSet": ("replicas",),
}

# Kinds without a spec at the top level.
_NO_SPEC = {
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Endpoints",
    "Event",
    "StorageClass",
    "EndpointSlice",
    "PriorityClass",
}
_NO_SPEC |= RBAC_KINDS


def validate(res: Resource, obj: Obj, causes: Causes) -> None:
    validate_name(res, obj, causes)
    spec = obj.get("spec")
    kind = res.kind
    if kind == "Pod":
        validate_pod_spec(spec, "spec", causes)
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        spec = spec or {}
        selector = spec.get("selector")
        if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.required("spec.selector")
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and not match_labels(selector, labels):
            causes.invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            )
        validate_pod_spec(template.get("spec"), "spec.template.spec", causes)
        if kind != "DaemonSet":
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or replicas < 0:
                causes.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
    elif kind == "StatefulSet":
        _validate_selected_template(spec or {}, causes, "spec")
        replicas = (spec or {}).get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 0:
            causes.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
        policy = ((spec or {}).get("template") or {}).get("spec", {}).get("restartPolicy")
        if policy not in (None, "Always"):
            causes.unsupported("spec.template.spec.restartPolicy", policy, ["Always"])
        pmp = (spec or {}).get("podManagementPolicy")
        if pmp not in ("OrderedReady", "Parallel"):
            causes.unsupported("spec.podManagementPolicy", pmp, ["OrderedReady", "Parallel"])
    elif kind == "Job":
        _validate_job_spec(spec or {}, "spec", causes)
    elif kind == "CronJob":
        _validate_cronjob(obj, spec or {}, causes)
    elif kind == "ConfigMap":
        for key in obj.get("data") or {}:
            if not re.match(r"^[-._a-zA-Z0-9]+$", key):
                causes.invalid(
                    f"data[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                )


def _validate_selected_template(spec: Obj, causes: Causes, path: str) -> None:
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.required(f"{path}.selector")
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector and not match_labels(selector, labels):
        causes.invalid(
            f"{path}.template.metadata.labels",
            labels,
            "`selector` does not match template `labels`",
        )
    validate_pod_spec(template.get("spec"), f"{path}.template.spec", causes)


def _validate_job_spec(spec: Obj, path: str, causes: Causes, selector: bool = True) -> None:
    """ValidateJobSpec: the fields the stand-in acts on."""
    if selector:
        _validate_selected_template(spec, causes, path)
    else:
        validate_pod_spec((spec.get("template") or {}).get("spec"), f"{path}.template.spec", causes)
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        causes.unsupported(f"{path}.template.spec.restartPolicy", policy, ["OnFailure", "Never"])
    for key in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or value < 0):
            causes.invalid(f"{path}.{key}", value, "must be greater than or equal to 0")
    mode = spec.get("completionMode")
    if mode not in (None, "NonIndexed", "Indexed"):
        causes.unsupported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"])
    if mode == "Indexed" and spec.get("completions") is None:
        causes.required(f"{path}.completions")


def _validate_cronjob(obj: Obj, spec: Obj, causes: Causes) -> None:
    from . import cron

    # Job names append 11 characters (-<minutes since epoch>) to the CronJob's.
    name = obj.get("metadata", {}).get("name") or ""
    if len(name) > 52:
        causes.invalid("metadata.name", name, "must be no more than 52 characters")
    schedule = spec.get("schedule")
    if not schedule:
        causes.required("spec.schedule")
    elif "TZ" in schedule:
        causes.invalid(
            "spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field"
        )
    else:
        try:
            cron.parse(schedule)
        except cron.CronError as exc:
            causes.invalid("spec.schedule", schedule, str(exc))
    if spec.get("timeZone") is not None:
        try:
            cron.zone(spec["timeZone"])
        except cron.CronError as exc:
            causes.invalid("spec.timeZone", spec["timeZone"], str(exc))
    policy = spec.get("concurrencyPolicy")
    if policy not in ("Allow", "Forbid", "Replace"):
        causes.unsupported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"])
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if not isinstance(job_spec, dict):
        causes.required("spec.jobTemplate.spec")
    else:
        _validate_job_spec(job_spec, "spec.jobTemplate.spec", causes, selector=False)
