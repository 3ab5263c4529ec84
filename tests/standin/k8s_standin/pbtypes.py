"""The protobuf messages the stand-in decodes: one entry per message, field by field.

Field numbers, names and wire types are facts of the published Kubernetes API types, read
from k8s.io/api `<group>/<version>/generated.proto` and `types.go` at tag v0.36.3 (and
k8s.io/apimachinery at v0.36.3 for meta/v1, resource.Quantity, intstr.IntOrString and
runtime.Unknown). kubectl 1.32 (k8s.io/api v0.32) sends a subset of these fields. No
`.proto` file is read at run time: `pbclasses.py` builds the descriptors from this table.
The project's tests hold the table to the descriptors compiled into kubectl itself
(tests/test_standin_protobuf_upstream.py). kubectl has none for CustomResourceDefinition
(k8s.io/apiextensions-apiserver v0.36.3) and APIService (k8s.io/kube-aggregator v0.36.2):
those entries were compared with the generated.proto files of those tags when written.

A field is `number: (json name, type)` or `number: (json name, type, ALWAYS)`:
- `string`, `bytes`, `bool`, `int32`, `int64`, `double`: a plain Go value. gogo-protobuf
  writes it even when it is zero, and Go's JSON (`omitempty`) leaves a zero out; ALWAYS
  marks the fields whose JSON tag has no `omitempty`, which JSON carries even when zero.
- `*string`, `*bool`, `*int32`, `*int64`, `*double`, `*IntOrString`, `*JSON`: a Go
  pointer. It is on the wire only when set, and then JSON carries it even when zero.
- `[]T` repeated, `map[string]T` a map (string keys); an empty one is left out of JSON.
- any other name: a message of this table, in JSON when it is on the wire. A json name of
  "" is an inlined struct (`json:",inline"`): its fields join the parent's.
- `IntOrString`, `Quantity`, `Time`, `MicroTime`, `RawExtension`, and apiextensions'
  `JSON` and `JSONSchemaPropsOr{Array,Bool,StringArray}` are messages with a JSON form
  of their own (`protobuf.py` writes it).

Fields of messages not listed here (volume sources beyond emptyDir, configMap, secret,
hostPath and persistentVolumeClaim; lifecycle hooks, affinity, topology spread, status
conditions, ...) are left out on purpose, so a body that carries them is refused rather
than decoded without them.
"""

from __future__ import annotations

from typing import Final

ALWAYS: Final = "always"

Field = tuple[str, str] | tuple[str, str, str]

#: The kinds a request body may carry, by (apiVersion, kind), each with its message here;
#: only those versions' numbering is tabled.
KINDS: Final[dict[tuple[str, str], str]] = {
    ("v1", "Namespace"): "Namespace",
    ("v1", "ConfigMap"): "ConfigMap",
    ("v1", "Secret"): "Secret",
    ("v1", "ServiceAccount"): "ServiceAccount",
    ("v1", "ResourceQuota"): "ResourceQuota",
    ("v1", "Pod"): "Pod",
    ("v1", "Service"): "Service",
    ("apps/v1", "Deployment"): "Deployment",
    ("batch/v1", "Job"): "Job",
    ("batch/v1", "CronJob"): "CronJob",
    ("networking.k8s.io/v1", "Ingress"): "Ingress",
    ("scheduling.k8s.io/v1", "PriorityClass"): "PriorityClass",
    ("policy/v1", "PodDisruptionBudget"): "PodDisruptionBudget",
    ("policy/v1", "Eviction"): "Eviction",
    ("rbac.authorization.k8s.io/v1", "Role"): "Role",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "ClusterRole",
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): "RoleBinding",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "ClusterRoleBinding",
    ("authorization.k8s.io/v1", "SelfSubjectAccessReview"): "SelfSubjectAccessReview",
    ("authorization.k8s.io/v1", "SubjectAccessReview"): "SubjectAccessReview",
    ("authorization.k8s.io/v1", "LocalSubjectAccessReview"): "LocalSubjectAccessReview",
    ("authentication.k8s.io/v1", "TokenRequest"): "TokenRequest",
    ("authentication.k8s.io/v1", "SelfSubjectReview"): "SelfSubjectReview",
    ("v1", "Node"): "Node",
    ("v1", "PersistentVolume"): "PersistentVolume",
    ("v1", "PersistentVolumeClaim"): "PersistentVolumeClaim",
    ("v1", "Endpoints"): "Endpoints",
    ("v1", "Event"): "Event",
    ("v1", "Binding"): "Binding",
    ("apps/v1", "StatefulSet"): "StatefulSet",
    ("apps/v1", "DaemonSet"): "DaemonSet",
    ("apps/v1", "ReplicaSet"): "ReplicaSet",
    ("apps/v1", "ControllerRevision"): "ControllerRevision",
    ("autoscaling/v1", "Scale"): "Scale",
    ("storage.k8s.io/v1", "StorageClass"): "StorageClass",
    ("networking.k8s.io/v1", "NetworkPolicy"): "NetworkPolicy",
    ("networking.k8s.io/v1", "IngressClass"): "IngressClass",
    ("discovery.k8s.io/v1", "EndpointSlice"): "EndpointSlice",
    ("coordination.k8s.io/v1", "Lease"): "Lease",
    ("events.k8s.io/v1", "Event"): "EventsEvent",
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): "CustomResourceDefinition",
    ("apiregistration.k8s.io/v1", "APIService"): "APIService",
}

#: Kinds registered in every group version (metav1.AddToGroupVersion): a DELETE's body
#: carries DeleteOptions under the apiVersion of the resource it deletes.
EVERY_VERSION: Final[frozenset[str]] = frozenset({"DeleteOptions"})

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
    # k8s.io/apimachinery pkg/runtime, v0.36.3: an embedded object as its serialized bytes
    # (JSON in a ControllerRevision's data), which JSON carries as the object itself.
    "RawExtension": {
        1: ("raw", "bytes"),
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
    # k8s.io/api core/v1/generated.proto and types.go, v0.36.3.
    # Persistent volumes keep hostPath, nfs, local and csi; the in-tree cloud and network
    # volume sources are left out on purpose (a body with one is refused), as is the
    # deprecated dynamic kubelet config (NodeSpec.configSource, NodeStatus.config).
    "Node": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NodeSpec"),
        3: ("status", "NodeStatus"),
    },
    "PersistentVolume": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PersistentVolumeSpec"),
        3: ("status", "PersistentVolumeStatus"),
    },
    "PersistentVolumeClaim": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "PersistentVolumeClaimSpec"),
        3: ("status", "PersistentVolumeClaimStatus"),
    },
    "Endpoints": {
        1: ("metadata", "ObjectMeta"),
        2: ("subsets", "[]EndpointSubset"),
    },
    "Event": {
        1: ("metadata", "ObjectMeta"),
        2: ("involvedObject", "ObjectReference"),
        3: ("reason", "string"),
        4: ("message", "string"),
        5: ("source", "EventSource"),
        6: ("firstTimestamp", "Time"),
        7: ("lastTimestamp", "Time"),
        8: ("count", "int32"),
        9: ("type", "string"),
        10: ("eventTime", "MicroTime"),
        11: ("series", "EventSeries"),
        12: ("action", "string"),
        13: ("related", "ObjectReference"),
        14: ("reportingComponent", "string", ALWAYS),
        15: ("reportingInstance", "string", ALWAYS),
    },
    "Binding": {
        1: ("metadata", "ObjectMeta"),
        2: ("target", "ObjectReference"),
    },
    "NodeSpec": {
        1: ("podCIDR", "string"),
        7: ("podCIDRs", "[]string"),
        3: ("providerID", "string"),
        4: ("unschedulable", "bool"),
        5: ("taints", "[]Taint"),
        2: ("externalID", "string"),
    },
    "NodeStatus": {
        1: ("capacity", "map[string]Quantity"),
        2: ("allocatable", "map[string]Quantity"),
        3: ("phase", "string"),
        4: ("conditions", "[]NodeCondition"),
        5: ("addresses", "[]NodeAddress"),
        6: ("daemonEndpoints", "NodeDaemonEndpoints"),
        7: ("nodeInfo", "NodeSystemInfo"),
        8: ("images", "[]ContainerImage"),
        9: ("volumesInUse", "[]string"),
        10: ("volumesAttached", "[]AttachedVolume"),
        12: ("runtimeHandlers", "[]NodeRuntimeHandler"),
        13: ("features", "NodeFeatures"),
        14: ("declaredFeatures", "[]string"),
    },
    "PersistentVolumeSpec": {
        1: ("capacity", "map[string]Quantity"),
        2: ("", "PersistentVolumeSource"),
        3: ("accessModes", "[]string"),
        4: ("claimRef", "ObjectReference"),
        5: ("persistentVolumeReclaimPolicy", "string"),
        6: ("storageClassName", "string"),
        7: ("mountOptions", "[]string"),
        8: ("volumeMode", "*string"),
        9: ("nodeAffinity", "VolumeNodeAffinity"),
        10: ("volumeAttributesClassName", "*string"),
    },
    "PersistentVolumeStatus": {
        1: ("phase", "string"),
        2: ("message", "string"),
        3: ("reason", "string"),
        4: ("lastPhaseTransitionTime", "Time"),
    },
    "PersistentVolumeClaimSpec": {
        1: ("accessModes", "[]string"),
        4: ("selector", "LabelSelector"),
        2: ("resources", "VolumeResourceRequirements"),
        3: ("volumeName", "string"),
        5: ("storageClassName", "*string"),
        6: ("volumeMode", "*string"),
        7: ("dataSource", "TypedLocalObjectReference"),
        8: ("dataSourceRef", "TypedObjectReference"),
        9: ("volumeAttributesClassName", "*string"),
    },
    "PersistentVolumeClaimStatus": {
        1: ("phase", "string"),
        2: ("accessModes", "[]string"),
        3: ("capacity", "map[string]Quantity"),
        4: ("conditions", "[]PersistentVolumeClaimCondition"),
        5: ("allocatedResources", "map[string]Quantity"),
        7: ("allocatedResourceStatuses", "map[string]string"),
        8: ("currentVolumeAttributesClassName", "*string"),
        9: ("modifyVolumeStatus", "ModifyVolumeStatus"),
    },
    "EndpointSubset": {
        1: ("addresses", "[]EndpointAddress"),
        2: ("notReadyAddresses", "[]EndpointAddress"),
        3: ("ports", "[]EndpointPort"),
    },
    "EventSource": {
        1: ("component", "string"),
        2: ("host", "string"),
    },
    "EventSeries": {
        1: ("count", "int32"),
        2: ("lastObservedTime", "MicroTime"),
    },
    "TopologySelectorTerm": {
        1: ("matchLabelExpressions", "[]TopologySelectorLabelRequirement"),
    },
    "Taint": {
        1: ("key", "string", ALWAYS),
        2: ("value", "string"),
        3: ("effect", "string", ALWAYS),
        4: ("timeAdded", "Time"),
    },
    "NodeCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastHeartbeatTime", "Time"),
        4: ("lastTransitionTime", "Time"),
        5: ("reason", "string"),
        6: ("message", "string"),
    },
    "NodeAddress": {
        1: ("type", "string", ALWAYS),
        2: ("address", "string", ALWAYS),
    },
    "NodeDaemonEndpoints": {
        1: ("kubeletEndpoint", "DaemonEndpoint"),
    },
    "NodeSystemInfo": {
        1: ("machineID", "string", ALWAYS),
        2: ("systemUUID", "string", ALWAYS),
        3: ("bootID", "string", ALWAYS),
        4: ("kernelVersion", "string", ALWAYS),
        5: ("osImage", "string", ALWAYS),
        6: ("containerRuntimeVersion", "string", ALWAYS),
        7: ("kubeletVersion", "string", ALWAYS),
        8: ("kubeProxyVersion", "string", ALWAYS),
        9: ("operatingSystem", "string", ALWAYS),
        10: ("architecture", "string", ALWAYS),
        11: ("swap", "NodeSwapStatus"),
    },
    "ContainerImage": {
        1: ("names", "[]string"),
        2: ("sizeBytes", "int64"),
    },
    "AttachedVolume": {
        1: ("name", "string", ALWAYS),
        2: ("devicePath", "string", ALWAYS),
    },
    "NodeRuntimeHandler": {
        1: ("name", "string", ALWAYS),
        2: ("features", "NodeRuntimeHandlerFeatures"),
    },
    "NodeFeatures": {
        1: ("supplementalGroupsPolicy", "*bool"),
    },
    "PersistentVolumeSource": {
        3: ("hostPath", "HostPathVolumeSource"),
        5: ("nfs", "NFSVolumeSource"),
        20: ("local", "LocalVolumeSource"),
        22: ("csi", "CSIPersistentVolumeSource"),
    },
    "VolumeNodeAffinity": {
        1: ("required", "NodeSelector"),
    },
    "VolumeResourceRequirements": {
        1: ("limits", "map[string]Quantity"),
        2: ("requests", "map[string]Quantity"),
    },
    "TypedObjectReference": {
        1: ("apiGroup", "*string"),
        2: ("kind", "string", ALWAYS),
        3: ("name", "string", ALWAYS),
        4: ("namespace", "*string"),
    },
    "PersistentVolumeClaimCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastProbeTime", "Time"),
        4: ("lastTransitionTime", "Time"),
        5: ("reason", "string"),
        6: ("message", "string"),
    },
    "ModifyVolumeStatus": {
        1: ("targetVolumeAttributesClassName", "string"),
        2: ("status", "string", ALWAYS),
    },
    "EndpointAddress": {
        1: ("ip", "string", ALWAYS),
        3: ("hostname", "string"),
        4: ("nodeName", "*string"),
        2: ("targetRef", "ObjectReference"),
    },
    "EndpointPort": {
        1: ("name", "string"),
        2: ("port", "int32", ALWAYS),
        3: ("protocol", "string"),
        4: ("appProtocol", "*string"),
    },
    "TopologySelectorLabelRequirement": {
        1: ("key", "string", ALWAYS),
        2: ("values", "[]string"),
    },
    "DaemonEndpoint": {
        1: ("Port", "int32", ALWAYS),
    },
    "NodeSwapStatus": {
        1: ("capacity", "*int64"),
    },
    "NodeRuntimeHandlerFeatures": {
        1: ("recursiveReadOnlyMounts", "*bool"),
        2: ("userNamespaces", "*bool"),
    },
    "NFSVolumeSource": {
        1: ("server", "string", ALWAYS),
        2: ("path", "string", ALWAYS),
        3: ("readOnly", "bool"),
    },
    "LocalVolumeSource": {
        1: ("path", "string", ALWAYS),
        2: ("fsType", "*string"),
    },
    "CSIPersistentVolumeSource": {
        1: ("driver", "string", ALWAYS),
        2: ("volumeHandle", "string", ALWAYS),
        3: ("readOnly", "bool"),
        4: ("fsType", "string"),
        5: ("volumeAttributes", "map[string]string"),
        6: ("controllerPublishSecretRef", "SecretReference"),
        7: ("nodeStageSecretRef", "SecretReference"),
        8: ("nodePublishSecretRef", "SecretReference"),
        9: ("controllerExpandSecretRef", "SecretReference"),
        10: ("nodeExpandSecretRef", "SecretReference"),
    },
    "NodeSelector": {
        1: ("nodeSelectorTerms", "[]NodeSelectorTerm"),
    },
    "SecretReference": {
        1: ("name", "string"),
        2: ("namespace", "string"),
    },
    "NodeSelectorTerm": {
        1: ("matchExpressions", "[]NodeSelectorRequirement"),
        2: ("matchFields", "[]NodeSelectorRequirement"),
    },
    "NodeSelectorRequirement": {
        1: ("key", "string", ALWAYS),
        2: ("operator", "string", ALWAYS),
        3: ("values", "[]string"),
    },
    # k8s.io/api apps/v1/generated.proto and types.go, v0.36.3.
    "StatefulSet": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "StatefulSetSpec"),
        3: ("status", "StatefulSetStatus"),
    },
    "DaemonSet": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "DaemonSetSpec"),
        3: ("status", "DaemonSetStatus"),
    },
    "ReplicaSet": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ReplicaSetSpec"),
        3: ("status", "ReplicaSetStatus"),
    },
    "ControllerRevision": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "RawExtension"),
        3: ("revision", "int64", ALWAYS),
    },
    "StatefulSetSpec": {
        1: ("replicas", "*int32"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
        4: ("volumeClaimTemplates", "[]PersistentVolumeClaim"),
        5: ("serviceName", "string", ALWAYS),
        6: ("podManagementPolicy", "string"),
        7: ("updateStrategy", "StatefulSetUpdateStrategy"),
        8: ("revisionHistoryLimit", "*int32"),
        9: ("minReadySeconds", "int32"),
        10: (
            "persistentVolumeClaimRetentionPolicy",
            "StatefulSetPersistentVolumeClaimRetentionPolicy",
        ),
        11: ("ordinals", "StatefulSetOrdinals"),
    },
    "StatefulSetStatus": {
        1: ("observedGeneration", "int64"),
        2: ("replicas", "int32", ALWAYS),
        3: ("readyReplicas", "int32"),
        4: ("currentReplicas", "int32"),
        5: ("updatedReplicas", "int32"),
        6: ("currentRevision", "string"),
        7: ("updateRevision", "string"),
        9: ("collisionCount", "*int32"),
        10: ("conditions", "[]StatefulSetCondition"),
        11: ("availableReplicas", "int32", ALWAYS),
    },
    "DaemonSetSpec": {
        1: ("selector", "LabelSelector"),
        2: ("template", "PodTemplateSpec"),
        3: ("updateStrategy", "DaemonSetUpdateStrategy"),
        4: ("minReadySeconds", "int32"),
        6: ("revisionHistoryLimit", "*int32"),
    },
    "DaemonSetStatus": {
        1: ("currentNumberScheduled", "int32", ALWAYS),
        2: ("numberMisscheduled", "int32", ALWAYS),
        3: ("desiredNumberScheduled", "int32", ALWAYS),
        4: ("numberReady", "int32", ALWAYS),
        5: ("observedGeneration", "int64"),
        6: ("updatedNumberScheduled", "int32"),
        7: ("numberAvailable", "int32"),
        8: ("numberUnavailable", "int32"),
        9: ("collisionCount", "*int32"),
        10: ("conditions", "[]DaemonSetCondition"),
    },
    "ReplicaSetSpec": {
        1: ("replicas", "*int32"),
        4: ("minReadySeconds", "int32"),
        2: ("selector", "LabelSelector"),
        3: ("template", "PodTemplateSpec"),
    },
    "ReplicaSetStatus": {
        1: ("replicas", "int32", ALWAYS),
        2: ("fullyLabeledReplicas", "int32"),
        4: ("readyReplicas", "int32"),
        5: ("availableReplicas", "int32"),
        7: ("terminatingReplicas", "*int32"),
        3: ("observedGeneration", "int64"),
        6: ("conditions", "[]ReplicaSetCondition"),
    },
    "StatefulSetUpdateStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "RollingUpdateStatefulSetStrategy"),
    },
    "StatefulSetPersistentVolumeClaimRetentionPolicy": {
        1: ("whenDeleted", "string"),
        2: ("whenScaled", "string"),
    },
    "StatefulSetOrdinals": {
        1: ("start", "int32", ALWAYS),
    },
    "StatefulSetCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
    "DaemonSetUpdateStrategy": {
        1: ("type", "string"),
        2: ("rollingUpdate", "RollingUpdateDaemonSet"),
    },
    "DaemonSetCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
    "ReplicaSetCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
    "RollingUpdateStatefulSetStrategy": {
        1: ("partition", "*int32"),
        2: ("maxUnavailable", "*IntOrString"),
    },
    "RollingUpdateDaemonSet": {
        1: ("maxUnavailable", "*IntOrString"),
        2: ("maxSurge", "*IntOrString"),
    },
    # k8s.io/api storage/v1/generated.proto and types.go, v0.36.3.
    "StorageClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("provisioner", "string", ALWAYS),
        3: ("parameters", "map[string]string"),
        4: ("reclaimPolicy", "*string"),
        5: ("mountOptions", "[]string"),
        6: ("allowVolumeExpansion", "*bool"),
        7: ("volumeBindingMode", "*string"),
        8: ("allowedTopologies", "[]TopologySelectorTerm"),
    },
    # k8s.io/api networking/v1/generated.proto and types.go, v0.36.3.
    "NetworkPolicy": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NetworkPolicySpec"),
    },
    "IngressClass": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "IngressClassSpec"),
    },
    "NetworkPolicySpec": {
        1: ("podSelector", "LabelSelector"),
        2: ("ingress", "[]NetworkPolicyIngressRule"),
        3: ("egress", "[]NetworkPolicyEgressRule"),
        4: ("policyTypes", "[]string"),
    },
    "IngressClassSpec": {
        1: ("controller", "string"),
        2: ("parameters", "IngressClassParametersReference"),
    },
    "NetworkPolicyIngressRule": {
        1: ("ports", "[]NetworkPolicyPort"),
        2: ("from", "[]NetworkPolicyPeer"),
    },
    "NetworkPolicyEgressRule": {
        1: ("ports", "[]NetworkPolicyPort"),
        2: ("to", "[]NetworkPolicyPeer"),
    },
    "IngressClassParametersReference": {
        1: ("apiGroup", "*string"),
        2: ("kind", "string", ALWAYS),
        3: ("name", "string", ALWAYS),
        4: ("scope", "*string"),
        5: ("namespace", "*string"),
    },
    "NetworkPolicyPort": {
        1: ("protocol", "*string"),
        2: ("port", "*IntOrString"),
        3: ("endPort", "*int32"),
    },
    "NetworkPolicyPeer": {
        1: ("podSelector", "LabelSelector"),
        2: ("namespaceSelector", "LabelSelector"),
        3: ("ipBlock", "IPBlock"),
    },
    "IPBlock": {
        1: ("cidr", "string", ALWAYS),
        2: ("except", "[]string"),
    },
    # k8s.io/api discovery/v1/generated.proto and types.go, v0.36.3.
    # discovery/v1 EndpointPort numbers its fields unlike core/v1 EndpointPort, hence
    # its own name here.
    "EndpointSlice": {
        1: ("metadata", "ObjectMeta"),
        4: ("addressType", "string", ALWAYS),
        2: ("endpoints", "[]Endpoint"),
        3: ("ports", "[]DiscoveryEndpointPort"),
    },
    "Endpoint": {
        1: ("addresses", "[]string"),
        2: ("conditions", "EndpointConditions"),
        3: ("hostname", "*string"),
        4: ("targetRef", "ObjectReference"),
        5: ("deprecatedTopology", "map[string]string"),
        6: ("nodeName", "*string"),
        7: ("zone", "*string"),
        8: ("hints", "EndpointHints"),
    },
    "DiscoveryEndpointPort": {
        1: ("name", "*string"),
        2: ("protocol", "*string"),
        3: ("port", "*int32"),
        4: ("appProtocol", "*string"),
    },
    "EndpointConditions": {
        1: ("ready", "*bool"),
        2: ("serving", "*bool"),
        3: ("terminating", "*bool"),
    },
    "EndpointHints": {
        1: ("forZones", "[]ForZone"),
        2: ("forNodes", "[]ForNode"),
    },
    "ForZone": {
        1: ("name", "string", ALWAYS),
    },
    "ForNode": {
        1: ("name", "string", ALWAYS),
    },
    # k8s.io/api coordination/v1/generated.proto and types.go, v0.36.3.
    "Lease": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "LeaseSpec"),
    },
    "LeaseSpec": {
        1: ("holderIdentity", "*string"),
        2: ("leaseDurationSeconds", "*int32"),
        3: ("acquireTime", "MicroTime"),
        4: ("renewTime", "MicroTime"),
        5: ("leaseTransitions", "*int32"),
        6: ("strategy", "*string"),
        7: ("preferredHolder", "*string"),
    },
    # k8s.io/api events/v1/generated.proto and types.go, v0.36.3.
    # events.k8s.io/v1 Event and EventSeries share their names with core/v1 types that
    # are numbered otherwise, hence names of their own here.
    "EventsEvent": {
        1: ("metadata", "ObjectMeta"),
        2: ("eventTime", "MicroTime"),
        3: ("series", "EventsEventSeries"),
        4: ("reportingController", "string"),
        5: ("reportingInstance", "string"),
        6: ("action", "string"),
        7: ("reason", "string"),
        8: ("regarding", "ObjectReference"),
        9: ("related", "ObjectReference"),
        10: ("note", "string"),
        11: ("type", "string"),
        12: ("deprecatedSource", "EventSource"),
        13: ("deprecatedFirstTimestamp", "Time"),
        14: ("deprecatedLastTimestamp", "Time"),
        15: ("deprecatedCount", "int32"),
    },
    "EventsEventSeries": {
        1: ("count", "int32", ALWAYS),
        2: ("lastObservedTime", "MicroTime"),
    },
    # k8s.io/api autoscaling/v1/generated.proto and types.go, v0.36.3.
    "Scale": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "ScaleSpec"),
        3: ("status", "ScaleStatus"),
    },
    "ScaleSpec": {
        1: ("replicas", "int32"),
    },
    "ScaleStatus": {
        1: ("replicas", "int32", ALWAYS),
        2: ("selector", "string"),
    },
    # k8s.io/apiextensions-apiserver pkg/apis/apiextensions/v1/types.go and
    # types_jsonschema.go, v0.36.3 (the apiextensions-apiserver of Kubernetes 1.36.3).
    "CustomResourceDefinition": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "CustomResourceDefinitionSpec"),
        3: ("status", "CustomResourceDefinitionStatus"),
    },
    "CustomResourceDefinitionSpec": {
        1: ("group", "string", ALWAYS),
        3: ("names", "CustomResourceDefinitionNames"),
        4: ("scope", "string", ALWAYS),
        7: ("versions", "[]CustomResourceDefinitionVersion"),
        9: ("conversion", "CustomResourceConversion"),
        10: ("preserveUnknownFields", "bool"),
    },
    "CustomResourceDefinitionNames": {
        1: ("plural", "string", ALWAYS),
        2: ("singular", "string"),
        3: ("shortNames", "[]string"),
        4: ("kind", "string", ALWAYS),
        5: ("listKind", "string"),
        6: ("categories", "[]string"),
    },
    "CustomResourceDefinitionVersion": {
        1: ("name", "string", ALWAYS),
        2: ("served", "bool", ALWAYS),
        3: ("storage", "bool", ALWAYS),
        7: ("deprecated", "bool"),
        8: ("deprecationWarning", "*string"),
        4: ("schema", "CustomResourceValidation"),
        5: ("subresources", "CustomResourceSubresources"),
        6: ("additionalPrinterColumns", "[]CustomResourceColumnDefinition"),
        9: ("selectableFields", "[]SelectableField"),
    },
    "CustomResourceValidation": {
        1: ("openAPIV3Schema", "JSONSchemaProps"),
    },
    "CustomResourceSubresources": {
        1: ("status", "CustomResourceSubresourceStatus"),
        2: ("scale", "CustomResourceSubresourceScale"),
    },
    # An empty struct: `status: {}` turns the subresource on.
    "CustomResourceSubresourceStatus": {},
    "CustomResourceSubresourceScale": {
        1: ("specReplicasPath", "string", ALWAYS),
        2: ("statusReplicasPath", "string", ALWAYS),
        3: ("labelSelectorPath", "*string"),
    },
    "CustomResourceColumnDefinition": {
        1: ("name", "string", ALWAYS),
        2: ("type", "string", ALWAYS),
        3: ("format", "string"),
        4: ("description", "string"),
        5: ("priority", "int32"),
        6: ("jsonPath", "string", ALWAYS),
    },
    "SelectableField": {
        1: ("jsonPath", "string", ALWAYS),
    },
    "CustomResourceConversion": {
        1: ("strategy", "string", ALWAYS),
        2: ("webhook", "WebhookConversion"),
    },
    "WebhookConversion": {
        2: ("clientConfig", "WebhookClientConfig"),
        3: ("conversionReviewVersions", "[]string"),
    },
    "WebhookClientConfig": {
        3: ("url", "*string"),
        1: ("service", "ApiextensionsServiceReference"),
        2: ("caBundle", "bytes"),
    },
    "ApiextensionsServiceReference": {
        1: ("namespace", "string", ALWAYS),
        2: ("name", "string", ALWAYS),
        3: ("path", "*string"),
        4: ("port", "*int32"),
    },
    "CustomResourceDefinitionStatus": {
        1: ("conditions", "[]CustomResourceDefinitionCondition"),
        2: ("acceptedNames", "CustomResourceDefinitionNames"),
        3: ("storedVersions", "[]string"),
        4: ("observedGeneration", "int64"),
    },
    "CustomResourceDefinitionCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
        6: ("observedGeneration", "int64"),
    },
    # The schema: JSON names that are not identifiers (`$schema`, `x-kubernetes-...`) are
    # kept as JSON has them; pbclasses gives their fields names of their own.
    "JSONSchemaProps": {
        1: ("id", "string"),
        2: ("$schema", "string"),
        3: ("$ref", "*string"),
        4: ("description", "string"),
        5: ("type", "string"),
        6: ("format", "string"),
        7: ("title", "string"),
        8: ("default", "*JSON"),
        9: ("maximum", "*double"),
        10: ("exclusiveMaximum", "bool"),
        11: ("minimum", "*double"),
        12: ("exclusiveMinimum", "bool"),
        13: ("maxLength", "*int64"),
        14: ("minLength", "*int64"),
        15: ("pattern", "string"),
        16: ("maxItems", "*int64"),
        17: ("minItems", "*int64"),
        18: ("uniqueItems", "bool"),
        19: ("multipleOf", "*double"),
        20: ("enum", "[]JSON"),
        21: ("maxProperties", "*int64"),
        22: ("minProperties", "*int64"),
        23: ("required", "[]string"),
        24: ("items", "*JSONSchemaPropsOrArray"),
        25: ("allOf", "[]JSONSchemaProps"),
        26: ("oneOf", "[]JSONSchemaProps"),
        27: ("anyOf", "[]JSONSchemaProps"),
        28: ("not", "JSONSchemaProps"),
        29: ("properties", "map[string]JSONSchemaProps"),
        30: ("additionalProperties", "*JSONSchemaPropsOrBool"),
        31: ("patternProperties", "map[string]JSONSchemaProps"),
        32: ("dependencies", "map[string]JSONSchemaPropsOrStringArray"),
        33: ("additionalItems", "*JSONSchemaPropsOrBool"),
        34: ("definitions", "map[string]JSONSchemaProps"),
        35: ("externalDocs", "ExternalDocumentation"),
        36: ("example", "*JSON"),
        37: ("nullable", "bool"),
        38: ("x-kubernetes-preserve-unknown-fields", "*bool"),
        39: ("x-kubernetes-embedded-resource", "bool"),
        40: ("x-kubernetes-int-or-string", "bool"),
        41: ("x-kubernetes-list-map-keys", "[]string"),
        42: ("x-kubernetes-list-type", "*string"),
        43: ("x-kubernetes-map-type", "*string"),
        44: ("x-kubernetes-validations", "[]ValidationRule"),
    },
    "ValidationRule": {
        1: ("rule", "string", ALWAYS),
        2: ("message", "string"),
        3: ("messageExpression", "string"),
        4: ("reason", "*string"),
        5: ("fieldPath", "string"),
        6: ("optionalOldSelf", "*bool"),
    },
    "ExternalDocumentation": {
        1: ("description", "string"),
        2: ("url", "string"),
    },
    # Leaves with a JSON form of their own (marshal.go): JSON is its raw bytes; the three
    # unions are a schema, or a list, or a bool (protobuf.py writes them).
    "JSON": {
        1: ("raw", "bytes"),
    },
    "JSONSchemaPropsOrArray": {
        1: ("schema", "JSONSchemaProps"),
        2: ("jSONSchemas", "[]JSONSchemaProps"),
    },
    "JSONSchemaPropsOrBool": {
        1: ("allows", "bool"),
        2: ("schema", "JSONSchemaProps"),
    },
    "JSONSchemaPropsOrStringArray": {
        1: ("schema", "JSONSchemaProps"),
        2: ("property", "[]string"),
    },
    # k8s.io/kube-aggregator pkg/apis/apiregistration/v1/types.go, v0.36.2.
    "APIService": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "APIServiceSpec"),
        3: ("status", "APIServiceStatus"),
    },
    "APIServiceSpec": {
        1: ("service", "ApiregistrationServiceReference"),
        2: ("group", "string"),
        3: ("version", "string"),
        4: ("insecureSkipTLSVerify", "bool"),
        5: ("caBundle", "bytes"),
        7: ("groupPriorityMinimum", "int32", ALWAYS),
        8: ("versionPriority", "int32", ALWAYS),
    },
    "ApiregistrationServiceReference": {
        1: ("namespace", "string"),
        2: ("name", "string"),
        3: ("port", "*int32"),
    },
    "APIServiceStatus": {
        1: ("conditions", "[]APIServiceCondition"),
    },
    "APIServiceCondition": {
        1: ("type", "string", ALWAYS),
        2: ("status", "string", ALWAYS),
        3: ("lastTransitionTime", "Time"),
        4: ("reason", "string"),
        5: ("message", "string"),
    },
}
