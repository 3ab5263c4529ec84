"""The protobuf messages the stand-in decodes: one entry per message, field by field.

Field numbers, names and wire types are facts of the published Kubernetes API types, read
from k8s.io/api `<group>/<version>/generated.proto` and `types.go` at tag v0.36.3 (and
k8s.io/apimachinery at v0.36.3 for meta/v1, resource.Quantity, intstr.IntOrString and
runtime.Unknown). kubectl 1.32 (k8s.io/api v0.32) sends a subset of these fields. No
`.proto` file is read at run time: `pbclasses.py` builds the descriptors from this table.

A field is `number: (json name, type)` or `number: (json name, type, ALWAYS)`:
- `string`, `bytes`, `bool`, `int32`, `int64`: a plain Go value. gogo-protobuf writes it
  even when it is zero, and Go's JSON (`omitempty`) leaves a zero out; ALWAYS marks the
  fields whose JSON tag has no `omitempty`, which JSON carries even when zero.
- `*string`, `*bool`, `*int32`, `*int64`, `*IntOrString`: a Go pointer. It is on the wire
  only when set, and then JSON carries it even when zero.
- `[]T` repeated, `map[string]T` a map (string keys); an empty one is left out of JSON.
- any other name: a message of this table, in JSON when it is on the wire. A json name of
  "" is an inlined struct (`json:",inline"`): its fields join the parent's.
- `IntOrString`, `Quantity`, `Time`, `MicroTime` are messages with a JSON form of their
  own (`protobuf.py` writes it).

Fields of messages not listed here (volume sources beyond emptyDir, configMap, secret,
hostPath and persistentVolumeClaim; lifecycle hooks, affinity, topology spread, status
conditions, ...) are left out on purpose, so a body that carries them is refused rather
than decoded without them.
"""

from __future__ import annotations

from typing import Final

ALWAYS: Final = "always"

Field = tuple[str, str] | tuple[str, str, str]

#: Kinds a request body may carry, with the only apiVersion whose numbering is tabled.
KINDS: Final[dict[str, str]] = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Secret": "v1",
    "ServiceAccount": "v1",
    "ResourceQuota": "v1",
    "Pod": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
    "Ingress": "networking.k8s.io/v1",
    "PriorityClass": "scheduling.k8s.io/v1",
    "PodDisruptionBudget": "policy/v1",
    "Eviction": "policy/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "ClusterRole": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
    "ClusterRoleBinding": "rbac.authorization.k8s.io/v1",
    "SelfSubjectAccessReview": "authorization.k8s.io/v1",
    "SubjectAccessReview": "authorization.k8s.io/v1",
    "LocalSubjectAccessReview": "authorization.k8s.io/v1",
    "TokenRequest": "authentication.k8s.io/v1",
    "SelfSubjectReview": "authentication.k8s.io/v1",
}

MESSAGES: Final[dict[str, dict[int, Field]]] = {
    # The envelope: runtime.Unknown after the `k8s\0` magic, and runtime.TypeMeta (whose
    # numbering differs from metav1.TypeMeta's); k8s.io/apimachinery pkg/runtime, v0.36.3.
    "Unknown": {
        1: ("typeMeta", "TypeMeta"),
        2: ("raw", "bytes"),
        3: ("contentEncoding", "string"),
        4: ("contentType", "string"),
    },
    "TypeMeta": {
        1: ("apiVersion", "string"),
        2: ("kind", "string"),
    },
    # Leaves with a JSON form of their own; k8s.io/apimachinery pkg/util/intstr,
    # pkg/api/resource and pkg/apis/meta/v1 (Time, MicroTime), v0.36.3.
    "IntOrString": {
        1: ("type", "int64"),
        2: ("intVal", "int32"),
        3: ("strVal", "string"),
    },
    "Quantity": {
        1: ("string", "string"),
    },
    "Time": {
        1: ("seconds", "int64"),
        2: ("nanos", "int32"),
    },
    "MicroTime": {
        1: ("seconds", "int64"),
        2: ("nanos", "int32"),
    },
    # k8s.io/apimachinery pkg/apis/meta/v1/generated.proto and types.go, v0.36.3.
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        4: ("selfLink", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int64"),
        8: ("creationTimestamp", "Time"),
        9: ("deletionTimestamp", "Time"),
        10: ("deletionGracePeriodSeconds", "*int64"),
        11: ("labels", "map[string]string"),
        12: ("annotations", "map[string]string"),
        13: ("ownerReferences", "[]OwnerReference"),
        14: ("finalizers", "[]string"),
    },
    "OwnerReference": {
        5: ("apiVersion", "string", ALWAYS),
        1: ("kind", "string", ALWAYS),
        3: ("name", "string", ALWAYS),
        4: ("uid", "string", ALWAYS),
        6: ("controller", "*bool"),
        7: ("blockOwnerDeletion", "*bool"),
    },
    "LabelSelector": {
        1: ("matchLabels", "map[string]string"),
        2: ("matchExpressions", "[]LabelSelectorRequirement"),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string", ALWAYS),
        2: ("operator", "string", ALWAYS),
        3: ("values", "[]string"),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "*int64"),
        2: ("preconditions", "Preconditions"),
        3: ("orphanDependents", "*bool"),
        4: ("propagationPolicy", "*string"),
        5: ("dryRun", "[]string"),
        6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "*bool"),
    },
    "Preconditions": {
        1: ("uid", "*string"),
        2: ("resourceVersion", "*string"),
    },
    # k8s.io/api core/v1/generated.proto and types.go, v0.36.3.
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {
        1: ("finalizers", "[]string"),
    },
    "NamespaceStatus": {
        1: ("phase", "string"),
    },
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        4: ("immutable", "*bool"),
        2: ("data", "map[string]string"),
        3: ("binaryData", "map[string]bytes"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        5: ("immutable", "*bool"),
        2: ("data", "map[string]bytes"),
        4: ("stringData", "map[string]string"),
        3: ("type", "string"),
    },
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", "[]ObjectReference"),
        3: ("imagePullSecrets", "[]LocalObjectReference"),
        4: ("automountServiceAccountToken", "*bool"),
    },
    "ObjectReference": {
        1: ("kind", "string"),
        2: ("namespace", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("resourceVersion", "string"),
        7: ("fieldPath", "string"),
    },
    "LocalObjectReference": {
        1: ("name", "string"),
    },
    "ResourceQuota": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ResourceQuotaSpec"),
        3: ("status", "ResourceQuotaStatus"),
    },
    "ResourceQuotaSpec": {
        1: ("hard", "map[string]Quantity"),
        2: ("scopes", "[]string"),
        3: ("scopeSelector", "ScopeSelector"),
    },
    "ResourceQuotaStatus": {
        1: ("hard", "map[string]Quantity"),
        2: ("used", "map[string]Quantity"),
    },
    "ScopeSelector": {
        1: ("matchExpressions", "[]ScopedResourceSelectorRequirement"),
    },
    "ScopedResourceSelectorRequirement": {
        1: ("scopeName", "string", ALWAYS),
        2: ("operator", "string", ALWAYS),
        3: ("values", "[]string"),
    },
    "Pod": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodSpec"),
        3: ("status", "PodStatus"),
    },
    "PodSpec": {
        1: ("volumes", "[]Volume"),
        20: ("initContainers", "[]Container"),
        2: ("containers", "[]Container"),
        3: ("restartPolicy", "string"),
        4: ("terminationGracePeriodSeconds", "*int64"),
        5: ("activeDeadlineSeconds", "*int64"),
        6: ("dnsPolicy", "string"),
        7: ("nodeSelector", "map[string]string"),
        8: ("serviceAccountName", "string"),
        9: ("serviceAccount", "string"),
        21: ("automountServiceAccountToken", "*bool"),
        10: ("nodeName", "string"),
        11: ("hostNetwork", "bool"),
        12: ("hostPID", "bool"),
        13: ("hostIPC", "bool"),
        27: ("shareProcessNamespace", "*bool"),
        14: ("securityContext", "PodSecurityContext"),
        15: ("imagePullSecrets", "[]LocalObjectReference"),
        16: ("hostname", "string"),
        17: ("subdomain", "string"),
        19: ("schedulerName", "string"),
        22: ("tolerations", "[]Toleration"),
        24: ("priorityClassName", "string"),
        25: ("priority", "*int32"),
        29: ("runtimeClassName", "*string"),
        30: ("enableServiceLinks", "*bool"),
        31: ("preemptionPolicy", "*string"),
        32: ("overhead", "map[string]Quantity"),
        35: ("setHostnameAsFQDN", "*bool"),
        37: ("hostUsers", "*bool"),
        40: ("resources", "ResourceRequirements"),
        41: ("hostnameOverride", "*string"),
    },
    "PodStatus": {
        17: ("observedGeneration", "int64"),
        1: ("phase", "string"),
        3: ("message", "string"),
        4: ("reason", "string"),
        11: ("nominatedNodeName", "string"),
        5: ("hostIP", "string"),
        6: ("podIP", "string"),
        7: ("startTime", "Time"),
        9: ("qosClass", "string"),
        14: ("resize", "string"),
        19: ("allocatedResources", "map[string]Quantity"),
        20: ("resources", "ResourceRequirements"),
    },
    "PodTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodSpec"),
    },
    "Container": {
        1: ("name", "string", ALWAYS),
        2: ("image", "string"),
        3: ("command", "[]string"),
        4: ("args", "[]string"),
        5: ("workingDir", "string"),
        6: ("ports", "[]ContainerPort"),
        19: ("envFrom", "[]EnvFromSource"),
        7: ("env", "[]EnvVar"),
        8: ("resources", "ResourceRequirements"),
        24: ("restartPolicy", "*string"),
        9: ("volumeMounts", "[]VolumeMount"),
        10: ("livenessProbe", "Probe"),
        11: ("readinessProbe", "Probe"),
        22: ("startupProbe", "Probe"),
        13: ("terminationMessagePath", "string"),
        20: ("terminationMessagePolicy", "string"),
        14: ("imagePullPolicy", "string"),
        15: ("securityContext", "SecurityContext"),
        16: ("stdin", "bool"),
        17: ("stdinOnce", "bool"),
        18: ("tty", "bool"),
    },
    "ContainerPort": {
        1: ("name", "string"),
        2: ("hostPort", "int32"),
        3: ("containerPort", "int32", ALWAYS),
        4: ("protocol", "string"),
        5: ("hostIP", "string"),
    },
    "EnvVar": {
        1: ("name", "string", ALWAYS),
        2: ("value", "string"),
        3: ("valueFrom", "EnvVarSource"),
    },
    "ResourceRequirements": {
        1: ("limits", "map[string]Quantity"),
        2: ("requests", "map[string]Quantity"),
    },
    "SecurityContext": {
        1: ("capabilities", "Capabilities"),
        2: ("privileged", "*bool"),
        4: ("runAsUser", "*int64"),
        8: ("runAsGroup", "*int64"),
        5: ("runAsNonRoot", "*bool"),
        6: ("readOnlyRootFilesystem", "*bool"),
        7: ("allowPrivilegeEscalation", "*bool"),
        9: ("procMount", "*string"),
    },
    "Capabilities": {
        1: ("add", "[]string"),
        2: ("drop", "[]string"),
    },
    "PodSecurityContext": {
        2: ("runAsUser", "*int64"),
        6: ("runAsGroup", "*int64"),
        3: ("runAsNonRoot", "*bool"),
        4: ("supplementalGroups", "[]int64"),
        12: ("supplementalGroupsPolicy", "*string"),
        5: ("fsGroup", "*int64"),
        9: ("fsGroupChangePolicy", "*string"),
        13: ("seLinuxChangePolicy", "*string"),
    },
    "Service": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ServiceSpec"),
        3: ("status", "ServiceStatus"),
    },
    "ServiceSpec": {
        1: ("ports", "[]ServicePort"),
        2: ("selector", "map[string]string"),
        3: ("clusterIP", "string"),
        18: ("clusterIPs", "[]string"),
        4: ("type", "string"),
        5: ("externalIPs", "[]string"),
        7: ("sessionAffinity", "string"),
        8: ("loadBalancerIP", "string"),
        9: ("loadBalancerSourceRanges", "[]string"),
        10: ("externalName", "string"),
        11: ("externalTrafficPolicy", "string"),
        12: ("healthCheckNodePort", "int32"),
        13: ("publishNotReadyAddresses", "bool"),
        19: ("ipFamilies", "[]string"),
        17: ("ipFamilyPolicy", "*string"),
        20: ("allocateLoadBalancerNodePorts", "*bool"),
        21: ("loadBalancerClass", "*string"),
        22: ("internalTrafficPolicy", "*string"),
        23: ("trafficDistribution", "*string"),
    },
    "ServicePort": {
        1: ("name", "string"),
        2: ("protocol", "string"),
        6: ("appProtocol", "*string"),
        3: ("port", "int32", ALWAYS),
        4: ("targetPort", "IntOrString"),
        5: ("nodePort", "int32"),
    },
    "ServiceStatus": {
        1: ("loadBalancer", "LoadBalancerStatus"),
    },
    # Its ingress list (1) is not decoded: a create never carries one.
    "LoadBalancerStatus": {},
    "TypedLocalObjectReference": {
        1: ("apiGroup", "*string"),
        2: ("kind", "string", ALWAYS),
        3: ("name", "string", ALWAYS),
    },
    "EnvVarSource": {
        1: ("fieldRef", "ObjectFieldSelector"),
        2: ("resourceFieldRef", "ResourceFieldSelector"),
        3: ("configMapKeyRef", "ConfigMapKeySelector"),
        4: ("secretKeyRef", "SecretKeySelector"),
    },
    "ObjectFieldSelector": {
        1: ("apiVersion", "string"),
        2: ("fieldPath", "string", ALWAYS),
    },
    "ResourceFieldSelector": {
        1: ("containerName", "string"),
        2: ("resource", "string", ALWAYS),
        3: ("divisor", "Quantity"),
    },
    "ConfigMapKeySelector": {
        1: ("", "LocalObjectReference"),
        2: ("key", "string", ALWAYS),
        3: ("optional", "*bool"),
    },
    "SecretKeySelector": {
        1: ("", "LocalObjectReference"),
        2: ("key", "string", ALWAYS),
        3: ("optional", "*bool"),
    },
    "EnvFromSource": {
        1: ("prefix", "string"),
        2: ("configMapRef", "ConfigMapEnvSource"),
        3: ("secretRef", "SecretEnvSource"),
    },
    "ConfigMapEnvSource": {
        1: ("", "LocalObjectReference"),
        2: ("optional", "*bool"),
    },
    "SecretEnvSource": {
        1: ("", "LocalObjectReference"),
        2: ("optional", "*bool"),
    },
    "VolumeMount": {
        1: ("name", "string", ALWAYS),
        2: ("readOnly", "bool"),
        7: ("recursiveReadOnly", "*string"),
        3: ("mountPath", "string", ALWAYS),
        4: ("subPath", "string"),
        5: ("mountPropagation", "*string"),
        6: ("subPathExpr", "string"),
    },
    "Volume": {
        1: ("name", "string", ALWAYS),
        2: ("", "VolumeSource"),
    },
    "VolumeSource": {
        1: ("hostPath", "HostPathVolumeSource"),
        2: ("emptyDir", "EmptyDirVolumeSource"),
        6: ("secret", "SecretVolumeSource"),
        10: ("persistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
        19: ("configMap", "ConfigMapVolumeSource"),
    },
    "EmptyDirVolumeSource": {
        1: ("medium", "string"),
        2: ("sizeLimit", "Quantity"),
    },
    "ConfigMapVolumeSource": {
        1: ("", "LocalObjectReference"),
        2: ("items", "[]KeyToPath"),
        3: ("defaultMode", "*int32"),
        4: ("optional", "*bool"),
    },
    "SecretVolumeSource": {
        1: ("secretName", "string"),
        2: ("items", "[]KeyToPath"),
        3: ("defaultMode", "*int32"),
        4: ("optional", "*bool"),
    },
    "HostPathVolumeSource": {
        1: ("path", "string", ALWAYS),
        2: ("type", "*string"),
    },
    "PersistentVolumeClaimVolumeSource": {
        1: ("claimName", "string", ALWAYS),
        2: ("readOnly", "bool"),
    },
    "KeyToPath": {
        1: ("key", "string", ALWAYS),
        2: ("path", "string", ALWAYS),
        3: ("mode", "*int32"),
    },
    "Probe": {
        1: ("", "ProbeHandler"),
        2: ("initialDelaySeconds", "int32"),
        3: ("timeoutSeconds", "int32"),
        4: ("periodSeconds", "int32"),
        5: ("successThreshold", "int32"),
        6: ("failureThreshold", "int32"),
        7: ("terminationGracePeriodSeconds", "*int64"),
    },
    "ProbeHandler": {
        1: ("exec", "ExecAction"),
        2: ("httpGet", "HTTPGetAction"),
        3: ("tcpSocket", "TCPSocketAction"),
        4: ("grpc", "GRPCAction"),
    },
    "ExecAction": {
        1: ("command", "[]string"),
    },
    "HTTPGetAction": {
        1: ("path", "string"),
        2: ("port", "IntOrString"),
        3: ("host", "string"),
        4: ("scheme", "string"),
        5: ("httpHeaders", "[]HTTPHeader"),
    },
    "HTTPHeader": {
        1: ("name", "string", ALWAYS),
        2: ("value", "string", ALWAYS),
    },
    "TCPSocketAction": {
        1: ("port", "IntOrString"),
        2: ("host", "string"),
    },
    "GRPCAction": {
        1: ("port", "int32", ALWAYS),
        2: ("service", "*string"),
    },
    "Toleration": {
        1: ("key", "string"),
        2: ("operator", "string"),
        3: ("value", "string"),
        4: ("effect", "string"),
        5: ("tolerationSeconds", "*int64"),
    },
    # k8s.io/api apps/v1/generated.proto and types.go, v0.36.3.
    "Deployment": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "DeploymentSpec"),
        3: ("status", "DeploymentStatus"),
    },
    "DeploymentSpec": {
        1: ("replicas", "*int32"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("strategy", "DeploymentStrategy"),
        5: ("minReadySeconds", "int32"),
        6: ("revisionHistoryLimit", "*int32"),
        7: ("paused", "bool"),
        9: ("progressDeadlineSeconds", "*int32"),
    },
    "DeploymentStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "RollingUpdateDeployment"),
    },
    "RollingUpdateDeployment": {
        1: ("maxUnavailable", "*IntOrString"),
        2: ("maxSurge", "*IntOrString"),
    },
    "DeploymentStatus": {
        1: ("observedGeneration", "int64"),
        2: ("replicas", "int32"),
        3: ("updatedReplicas", "int32"),
        7: ("readyReplicas", "int32"),
        4: ("availableReplicas", "int32"),
        5: ("unavailableReplicas", "int32"),
        9: ("terminatingReplicas", "*int32"),
        8: ("collisionCount", "*int32"),
    },
    # k8s.io/api batch/v1/generated.proto and types.go, v0.36.3.
    "Job": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "JobSpec"),
        3: ("status", "JobStatus"),
    },
    "JobSpec": {
        1: ("parallelism", "*int32"),
        2: ("completions", "*int32"),
        3: ("activeDeadlineSeconds", "*int64"),
        7: ("backoffLimit", "*int32"),
        12: ("backoffLimitPerIndex", "*int32"),
        13: ("maxFailedIndexes", "*int32"),
        4: ("selector", "LabelSelector"),
        5: ("manualSelector", "*bool"),
        6: ("template", "PodTemplateSpec"),
        8: ("ttlSecondsAfterFinished", "*int32"),
        9: ("completionMode", "*string"),
        10: ("suspend", "*bool"),
        14: ("podReplacementPolicy", "*string"),
        15: ("managedBy", "*string"),
    },
    "JobStatus": {
        2: ("startTime", "Time"),
        3: ("completionTime", "Time"),
        4: ("active", "int32"),
        5: ("succeeded", "int32"),
        6: ("failed", "int32"),
        11: ("terminating", "*int32"),
        7: ("completedIndexes", "string"),
        10: ("failedIndexes", "*string"),
        9: ("ready", "*int32"),
    },
    "CronJob": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "CronJobSpec"),
        3: ("status", "CronJobStatus"),
    },
    "CronJobSpec": {
        1: ("schedule", "string", ALWAYS),
        8: ("timeZone", "*string"),
        2: ("startingDeadlineSeconds", "*int64"),
        3: ("concurrencyPolicy", "string"),
        4: ("suspend", "*bool"),
        5: ("jobTemplate", "JobTemplateSpec"),
        6: ("successfulJobsHistoryLimit", "*int32"),
        7: ("failedJobsHistoryLimit", "*int32"),
    },
    "CronJobStatus": {
        1: ("active", "[]ObjectReference"),
        4: ("lastScheduleTime", "Time"),
        5: ("lastSuccessfulTime", "Time"),
    },
    "JobTemplateSpec": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "JobSpec"),
    },
    # k8s.io/api networking/v1/generated.proto and types.go, v0.36.3.
    "Ingress": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "IngressSpec"),
        3: ("status", "IngressStatus"),
    },
    "IngressSpec": {
        4: ("ingressClassName", "*string"),
        1: ("defaultBackend", "IngressBackend"),
        2: ("tls", "[]IngressTLS"),
        3: ("rules", "[]IngressRule"),
    },
    "IngressTLS": {
        1: ("hosts", "[]string"),
        2: ("secretName", "string"),
    },
    "IngressRule": {
        1: ("host", "string"),
        2: ("", "IngressRuleValue"),
    },
    "IngressRuleValue": {
        1: ("http", "HTTPIngressRuleValue"),
    },
    "HTTPIngressRuleValue": {
        1: ("paths", "[]HTTPIngressPath"),
    },
    "HTTPIngressPath": {
        1: ("path", "string"),
        3: ("pathType", "*string"),
        2: ("backend", "IngressBackend"),
    },
    "IngressBackend": {
        4: ("service", "IngressServiceBackend"),
        3: ("resource", "TypedLocalObjectReference"),
    },
    "IngressServiceBackend": {
        1: ("name", "string", ALWAYS),
        2: ("port", "ServiceBackendPort"),
    },
    "ServiceBackendPort": {
        1: ("name", "string"),
        2: ("number", "int32"),
    },
    "IngressStatus": {
        1: ("loadBalancer", "IngressLoadBalancerStatus"),
    },
    # Its ingress list (1) is not decoded: a create never carries one.
    "IngressLoadBalancerStatus": {},
    # k8s.io/api scheduling/v1/generated.proto and types.go, v0.36.3.
    "PriorityClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("value", "int32", ALWAYS),
        3: ("globalDefault", "bool"),
        4: ("description", "string"),
        5: ("preemptionPolicy", "*string"),
    },
    # k8s.io/api policy/v1/generated.proto and types.go, v0.36.3.
    "PodDisruptionBudget": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PodDisruptionBudgetSpec"),
        3: ("status", "PodDisruptionBudgetStatus"),
    },
    "PodDisruptionBudgetSpec": {
        1: ("minAvailable", "*IntOrString"),
        2: ("selector", "LabelSelector"),
        3: ("maxUnavailable", "*IntOrString"),
        4: ("unhealthyPodEvictionPolicy", "*string"),
    },
    "PodDisruptionBudgetStatus": {
        1: ("observedGeneration", "int64"),
        2: ("disruptedPods", "map[string]Time"),
        3: ("disruptionsAllowed", "int32", ALWAYS),
        4: ("currentHealthy", "int32", ALWAYS),
        5: ("desiredHealthy", "int32", ALWAYS),
        6: ("expectedPods", "int32", ALWAYS),
    },
    "Eviction": {
        1: ("metadata", "ObjectMeta"),
        2: ("deleteOptions", "DeleteOptions"),
    },
    # k8s.io/api rbac/v1/generated.proto and types.go, v0.36.3.
    "Role": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", "[]PolicyRule"),
    },
    "ClusterRole": {
        1: ("metadata", "ObjectMeta"),
        2: ("rules", "[]PolicyRule"),
        3: ("aggregationRule", "AggregationRule"),
    },
    "RoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "[]Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "ClusterRoleBinding": {
        1: ("metadata", "ObjectMeta"),
        2: ("subjects", "[]Subject"),
        3: ("roleRef", "RoleRef"),
    },
    "PolicyRule": {
        1: ("verbs", "[]string"),
        2: ("apiGroups", "[]string"),
        3: ("resources", "[]string"),
        4: ("resourceNames", "[]string"),
        5: ("nonResourceURLs", "[]string"),
    },
    "AggregationRule": {
        1: ("clusterRoleSelectors", "[]LabelSelector"),
    },
    "Subject": {
        1: ("kind", "string", ALWAYS),
        2: ("apiGroup", "string"),
        3: ("name", "string", ALWAYS),
        4: ("namespace", "string"),
    },
    "RoleRef": {
        1: ("apiGroup", "string", ALWAYS),
        2: ("kind", "string", ALWAYS),
        3: ("name", "string", ALWAYS),
    },
    # k8s.io/api authorization/v1/generated.proto and types.go, v0.36.3.
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SelfSubjectAccessReviewSpec"),
        3: ("status", "SubjectAccessReviewStatus"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
    },
    "SubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SubjectAccessReviewSpec"),
        3: ("status", "SubjectAccessReviewStatus"),
    },
    "LocalSubjectAccessReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "SubjectAccessReviewSpec"),
        3: ("status", "SubjectAccessReviewStatus"),
    },
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes"),
        2: ("nonResourceAttributes", "NonResourceAttributes"),
        3: ("user", "string"),
        4: ("groups", "[]string"),
        6: ("uid", "string"),
    },
    "SubjectAccessReviewStatus": {
        1: ("allowed", "bool", ALWAYS),
        4: ("denied", "bool"),
        2: ("reason", "string"),
        3: ("evaluationError", "string"),
    },
    "ResourceAttributes": {
        1: ("namespace", "string"),
        2: ("verb", "string"),
        3: ("group", "string"),
        4: ("version", "string"),
        5: ("resource", "string"),
        6: ("subresource", "string"),
        7: ("name", "string"),
    },
    "NonResourceAttributes": {
        1: ("path", "string"),
        2: ("verb", "string"),
    },
    # k8s.io/api authentication/v1/generated.proto and types.go, v0.36.3.
    "TokenRequest": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "TokenRequestSpec"),
        3: ("status", "TokenRequestStatus"),
    },
    "TokenRequestSpec": {
        1: ("audiences", "[]string"),
        4: ("expirationSeconds", "*int64", ALWAYS),
        3: ("boundObjectRef", "BoundObjectReference"),
    },
    "TokenRequestStatus": {
        1: ("token", "string", ALWAYS),
        2: ("expirationTimestamp", "Time"),
    },
    "BoundObjectReference": {
        1: ("kind", "string"),
        2: ("apiVersion", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
    },
    "SelfSubjectReview": {
        1: ("metadata", "ObjectMeta"),
        2: ("status", "SelfSubjectReviewStatus"),
    },
    "SelfSubjectReviewStatus": {
        1: ("userInfo", "UserInfo"),
    },
    "UserInfo": {
        1: ("username", "string"),
        2: ("uid", "string"),
        3: ("groups", "[]string"),
    },
}
