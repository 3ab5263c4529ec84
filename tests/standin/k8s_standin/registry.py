"""The verbs (get, list, create, update, patch, delete) with upstream's semantics.

This is the apiserver's "registry" layer: metadata bookkeeping, optimistic
concurrency, defaulting, admission checks, graceful deletion and finalizers. HTTP
concerns live in api.py.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import secrets
import string
import uuid
from collections.abc import Iterator
from typing import Any

from . import (
    crds,
    defaults,
    disruption,
    errors,
    fieldmanager,
    fieldpaths,
    ipam,
    patch,
    priorityclasses,
    quantity,
    quota,
    services,
)
from .errors import ApiError, Causes
from .fieldmanager import Writer
from .fieldpaths import Path as FieldPath
from .resources import Resource, by_kind, get, served
from .selectors import Predicate, field_selector, label_selector
from .store import Event, Store

Obj = dict[str, Any]
ObjList = list[Obj]  # the method named list() shadows the builtin in class bodies

NS = get("", "v1", "namespaces")
NODES = get("", "v1", "nodes")
SERVICES = get("", "v1", "services")
SERVICE_ACCOUNTS = get("", "v1", "serviceaccounts")
STORAGE_CLASSES = get("storage.k8s.io", "v1", "storageclasses")
QUOTAS = get("", "v1", "resourcequotas")
PRIORITY_CLASSES = get("scheduling.k8s.io", "v1", "priorityclasses")

_STATUS_KINDS_WITH_SPEC_GENERATION = {
    "Deployment",
    "ReplicaSet",
    "DaemonSet",
    "StatefulSet",
    "Job",
    "CronJob",
    "Ingress",
    "NetworkPolicy",
    "StorageClass",
    "PersistentVolumeClaim",
    "Service",
    "Pod",
    "PodDisruptionBudget",
}


# Writes the stand-in makes itself (bootstrap objects, controllers) are the API
# server's own, as kube-apiserver's bootstrap writes appear under its user agent.
SYSTEM = Writer("kube-apiserver")


def _ignored(res: Resource, subresource: str, obj: Obj) -> set[FieldPath]:
    """The reset fields of the resource's strategy (GetResetFields): a write to the
    main resource owns no status, a write to /status nothing but status and metadata."""
    if subresource == "status":
        return {("f:" + k,) for k in obj if k not in ("status", "metadata")}
    if "status" in res.subresources:
        return {("f:status",)}
    return set()


# The NamespaceLifecycle admission plugin refuses to delete these.
_UNDELETABLE_NAMESPACES = {"default", "kube-system", "kube-public"}


def rkey(res: Resource) -> str:
    return f"{res.group}/{res.plural}"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _after(seconds: int) -> str:
    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# Kinds whose storage sets ReturnDeletedObject upstream (pkg/registry/core/*/storage,
# pkg/registry/storage/storageclass/storage): a DELETE that removes the object at once
# answers with the object; every other kind answers with a Status.
RETURNS_DELETED_OBJECT = {
    "Pod",
    "Service",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "ServiceAccount",
    "StorageClass",
    "Namespace",
}


def success_status(res: Resource, obj: Obj) -> Obj:
    meta = obj["metadata"]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta["name"],
            "group": res.group,
            "kind": res.plural,
            "uid": meta.get("uid"),
        },
    }


class Registry:
    def __init__(self, store: Store, service_ips: ipam.ServiceIPs) -> None:
        self.store = store
        self.service_ips = service_ips
        # The resources of stored CRDs are served from the start and follow every
        # write of a CRD.
        store.listen(self._crd_written)
        self._crd_written(crds.RKEY)

    def _crd_written(self, key: str) -> None:
        if key == crds.RKEY:
            crds.sync(self.store.list(crds.RKEY)[0])

    # -- reads -------------------------------------------------------------
    def get(self, res: Resource, ns: str, name: str) -> Obj:
        obj = self.store.get(rkey(res), ns if res.namespaced else "", name)
        if obj is None:
            raise errors.not_found(res.plural, res.group, name)
        return self._typed(res, obj)

    def find(self, res: Resource, ns: str, name: str) -> Obj | None:
        return self.store.get(rkey(res), ns if res.namespaced else "", name)

    @staticmethod
    def _typed(res: Resource, obj: Obj) -> Obj:
        obj["apiVersion"] = res.api_version
        obj["kind"] = res.kind
        return obj

    def list(
        self,
        res: Resource,
        ns: str | None,
        labels: str | None = None,
        fields: str | None = None,
        limit: int = 0,
        cont: str | None = None,
    ) -> Obj:
        items, rv = self.store.list(rkey(res), ns if res.namespaced else None)
        match_l, match_f = label_selector(labels), field_selector(fields)
        items = [self._typed(res, o) for o in items if match_l(o) and match_f(o)]
        meta: Obj = {"resourceVersion": str(rv)}
        if cont:
            try:
                state = json.loads(base64.urlsafe_b64decode(cont.encode()))
                after = tuple(state["after"])
                meta["resourceVersion"] = str(state["rv"])
            except (ValueError, KeyError, TypeError):
                raise ApiError("BadRequest", "continue key is not valid") from None
            items = [o for o in items if _sort_key(o) > after]
        if limit and len(items) > limit:
            last = _sort_key(items[limit - 1])
            items = items[:limit]
            token = {"after": list(last), "rv": int(meta["resourceVersion"])}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            meta["remainingItemCount"] = 0
        return {
            "kind": res.list_kind,
            "apiVersion": res.api_version,
            "metadata": meta,
            "items": items,
        }

    def watch(
        self,
        res: Resource,
        ns: str | None,
        since_rv: int | None,
        deadline: float,
        labels: str | None = None,
        fields: str | None = None,
        initial: bool = False,
    ) -> Iterator[tuple[str, Obj]]:
        """Yield (type, object); type "" is a heartbeat, "INITIAL_END" follows the
        initial ADDED events. Follows upstream filtering: an object that stops matching
        a selector is reported as DELETED. Raises Expired before the first yield."""
        match_l, match_f = label_selector(labels), field_selector(fields)
        key = rkey(res)
        with self.store.lock:
            current, rv = self.store.list(key, ns if res.namespaced else None)
            if since_rv is None:
                since_rv = rv
                initial = True
            events = self.store.events(since_rv, deadline)
        return self._stream(res, ns, key, current, events, initial, match_l, match_f)

    def _stream(
        self,
        res: Resource,
        ns: str | None,
        key: str,
        current: ObjList,
        events: Iterator[Event],
        initial: bool,
        match_l: Predicate,
        match_f: Predicate,
    ) -> Iterator[tuple[str, Obj]]:
        def matches(obj: Obj | None) -> bool:
            return obj is not None and match_l(obj) and match_f(obj)

        if initial:
            for obj in current:
                if matches(obj):
                    yield "ADDED", self._typed(res, obj)
            yield "INITIAL_END", {}
        for event in events:
            if event.type == "HEARTBEAT":
                yield "", {}
                continue
            if event.rkey != key:
                continue
            if res.namespaced and ns and event.obj["metadata"].get("namespace") != ns:
                continue
            now_in, was_in = matches(event.obj), matches(event.prev)
            if event.type == "MODIFIED":
                kind = {
                    (True, True): "MODIFIED",
                    (True, False): "ADDED",
                    (False, True): "DELETED",
                }.get((now_in, was_in), "")
            else:
                kind = event.type if now_in else ""
            if kind:
                yield kind, self._typed(res, copy.deepcopy(event.obj))

    # -- create ------------------------------------------------------------
    def create(
        self,
        res: Resource,
        ns: str,
        body: Any,
        dry_run: bool = False,
        writer: Writer | None = SYSTEM,
    ) -> Obj:
        """`writer` None: the body's managedFields are stored as they are (an apply
        computed them)."""
        if not isinstance(body, dict):
            raise ApiError("BadRequest", "the body of the request was in an unknown format")
        self._check_type(res, body)
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError("BadRequest", "metadata must be an object")
        if res.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise ApiError(
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = ns or body_ns or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(
                secrets.choice(string.ascii_lowercase + "0123456789") for _ in range(5)
            )
            meta["name"] = meta["generateName"] + suffix
        with self.store.lock:
            if res.namespaced:
                self._check_namespace(res, meta["namespace"], meta.get("name") or "")
            if self.find(res, meta.get("namespace", ""), meta.get("name") or "") is not None:
                raise errors.already_exists(res.plural, res.group, meta["name"])
            for drop in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(drop, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            meta["generation"] = 1
            self._admit(res, obj, None, writer)
            if res.namespaced:
                shown = (body.get("metadata") or {}).get("name") or meta.get("generateName", "")
                self._charge_quotas(res, obj, shown, dry_run)
            if dry_run:
                return self._typed(res, obj)
            # Stored without its type, as _replace stores it, so that a later no-op
            # write compares equal.
            obj.pop("apiVersion", None)
            obj.pop("kind", None)
            stored = self.store.put(rkey(res), obj, "ADDED")
        return self._typed(res, stored)

    def _charge_quotas(self, res: Resource, obj: Obj, shown: str, dry_run: bool) -> None:
        """ResourceQuota admission: refuse a create the namespace's quotas do not allow,
        else charge their status.used at once, as the plugin does before the quota
        controller counts again."""
        quotas, _ = self.store.list(rkey(QUOTAS), obj["metadata"]["namespace"])
        if not quotas:
            return
        for charged, status in quota.admit(res, obj, quotas, shown):
            if not dry_run:
                self.store.put(rkey(QUOTAS), dict(charged, status=status), "MODIFIED")

    def quota_usage(self, ns: str, names: list[str]) -> dict[str, str]:
        """status.used of a quota on `names` in `ns`, counted from the stored objects."""
        seen: set[str] = set()
        objects: list[tuple[Resource, Obj]] = []
        for res in served():
            if not res.namespaced or rkey(res) in seen or not quota.counts(res, names):
                continue
            seen.add(rkey(res))
            objects += [(res, o) for o in self.store.list(rkey(res), ns)[0]]
        return quota.total(objects, names)

    def _check_type(self, res: Resource, body: Obj) -> None:
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if kind and kind != res.kind:
            raise ApiError("BadRequest", f"the kind {kind!r} does not match {res.kind!r}")
        if api_version and by_kind(api_version, res.kind) is None and kind:
            raise ApiError(
                "BadRequest",
                f"the API version in the data ({api_version}) does not match the "
                f"expected API version ({res.api_version})",
            )

    def _check_namespace(self, res: Resource, ns: str, name: str = "") -> None:
        namespace = self.store.get(rkey(NS), "", ns)
        if namespace is None:
            raise errors.not_found("namespaces", "", ns)
        if namespace["metadata"].get("deletionTimestamp") and res.kind != "Event":
            raise ApiError(
                "Forbidden",
                f'{res.plural} "{name}" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated",
                {"kind": res.plural, "group": res.group},
            )

    def _admit(
        self,
        res: Resource,
        obj: Obj,
        old: Obj | None,
        writer: Writer | None,
        subresource: str = "",
    ) -> None:
        """Defaulting, validation and the admission plugins the stand-in models."""
        defaults.default(res, obj)
        if res.custom:
            crds.admit(res, obj, old)  # pruned as upstream's decoder prunes custom objects
        if res == crds.CRDS:
            crds.default(obj)
        if writer is not None:
            # Upstream the field manager sees the decoded, defaulted request object,
            # before admission and the strategy change it (k8s.io/apiserver
            # pkg/endpoints/handlers/create.go and update.go at v0.36.3).
            self._track(res, obj, old, writer, subresource)
        if old is None and res.kind == "Job":
            defaults.generate_job_selector(obj)
        causes = Causes()
        defaults.validate(res, obj, causes)
        name = obj["metadata"].get("name", "")
        if res.kind == "PodDisruptionBudget" and res.group == "policy":
            disruption.validate(obj, causes)
            if old is None:
                obj["status"] = disruption.initial_status()
        if res == PRIORITY_CLASSES:
            priorityclasses.default(obj)
            priorityclasses.validate(obj, old, causes)
        if res == QUOTAS:
            for path, value, detail in quota.validate_hard(obj):
                causes.invalid(path, value, detail)
        if res == crds.CRDS:
            crds.validate(obj, old, causes)
            causes.raise_if_any(res.kind, res.group, name)
            crds.set_status(obj, old, self.store.list(crds.RKEY)[0])
        if res.kind == "Service":
            svcs, _ = self.store.list(rkey(SERVICES))
            services.prepare(obj, old, svcs, self.service_ips, causes)
        causes.raise_if_any(res.kind, res.group, name)
        if res == PRIORITY_CLASSES:
            classes, _ = self.store.list(rkey(PRIORITY_CLASSES))
            priorityclasses.admit(obj, old, classes)
        if res == QUOTAS:
            self._quota_status(obj, old)
        if old is None and res.kind == "Pod":
            # ServiceAccount admission: a pod needs its service account to exist, the
            # root of the well-known "serviceaccount default not found" startup race.
            sa = obj["spec"].get("serviceAccountName", "default")
            if self.store.get(rkey(SERVICE_ACCOUNTS), obj["metadata"]["namespace"], sa) is None:
                raise ApiError(
                    "Forbidden",
                    f'pods "{name}" is forbidden: error looking up service account '
                    f'{obj["metadata"]["namespace"]}/{sa}: serviceaccount "{sa}" not found',
                    {"name": name, "kind": "pods"},
                )
        if old is None and res.kind in ("PersistentVolumeClaim", "PersistentVolume"):
            # StorageObjectInUseProtection admission; node/volumectl.py removes them.
            finalizer = (
                "kubernetes.io/pvc-protection"
                if res.kind == "PersistentVolumeClaim"
                else "kubernetes.io/pv-protection"
            )
            finalizers = obj["metadata"].setdefault("finalizers", [])
            if finalizer not in finalizers:
                finalizers.append(finalizer)
        if old is None and res.kind == "PersistentVolumeClaim":
            spec = obj["spec"]
            if "storageClassName" not in spec:
                default_sc = self._default_storage_class()
                if default_sc:
                    spec["storageClassName"] = default_sc

    @staticmethod
    def _track(res: Resource, obj: Obj, old: Obj | None, writer: Writer, sub: str) -> None:
        live = Registry._typed(res, copy.deepcopy(old)) if old is not None else None
        typed = dict(obj, apiVersion=res.api_version, kind=res.kind)
        entries = fieldmanager.track_update(
            live, typed, writer, res.api_version, _ignored(res, sub, typed)
        )
        if entries:
            obj["metadata"]["managedFields"] = entries
        else:
            obj["metadata"].pop("managedFields", None)

    def _quota_status(self, obj: Obj, old: Obj | None) -> None:
        """Quantities are written back canonical; a new or changed quota gets its
        status at once (upstream's controller writes it a moment later, and until then
        the admission plugin refuses what the quota constrains)."""
        spec = obj.setdefault("spec", {})
        hard = spec.get("hard") or {}
        spec["hard"] = {k: quantity.normalize(v) for k, v in hard.items()}
        if old is not None and (old.get("spec") or {}).get("hard") == spec["hard"]:
            return
        used = self.quota_usage(obj["metadata"]["namespace"], sorted(spec["hard"]))
        obj["status"] = quota.status_for(obj, used)

    def _default_storage_class(self) -> str | None:
        classes, _ = self.store.list(rkey(STORAGE_CLASSES))
        for sc in classes:
            ann = sc["metadata"].get("annotations") or {}
            if ann.get("storageclass.kubernetes.io/is-default-class") == "true":
                return str(sc["metadata"]["name"])
        return None

    # -- update / patch ----------------------------------------------------
    def update(
        self,
        res: Resource,
        ns: str,
        name: str,
        body: Any,
        subresource: str = "",
        dry_run: bool = False,
        writer: Writer | None = SYSTEM,
    ) -> Obj:
        if not isinstance(body, dict):
            raise ApiError("BadRequest", "the body of the request was in an unknown format")
        self._check_type(res, body)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise ApiError(
                "BadRequest", "the name of the object does not match the name on the URL"
            )
        with self.store.lock:
            old = self.find(res, ns, name)
            if old is None:
                if res.create_on_update and not subresource:
                    return self.create(res, ns, body, dry_run, writer)
                raise errors.not_found(res.plural, res.group, name)
            want_rv = (body.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            return self._replace(res, old, copy.deepcopy(body), subresource, dry_run, writer)

    def patch(
        self,
        res: Resource,
        ns: str,
        name: str,
        content_type: str,
        body: Any,
        subresource: str = "",
        dry_run: bool = False,
        writer: Writer | None = SYSTEM,
        force: bool = False,
    ) -> Obj:
        with self.store.lock:
            old = self.find(res, ns, name)
            if content_type.startswith("application/apply-patch"):
                return self._apply(res, ns, name, old, body, subresource, dry_run, writer, force)
            if old is None:
                raise errors.not_found(res.plural, res.group, name)
            base = self._typed(res, copy.deepcopy(old))
            if content_type.startswith("application/json-patch+json"):
                new = patch.json_patch(base, body)
            elif content_type.startswith("application/merge-patch+json"):
                new = patch.merge_patch(base, body)
            elif content_type.startswith("application/strategic-merge-patch+json"):
                if res.custom:
                    # Custom objects have no Go types to take merge keys from
                    # (customresource_handler.go serves no strategic merge patch).
                    raise ApiError(
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media "
                        "types include: application/json-patch+json, "
                        "application/merge-patch+json, application/apply-patch+yaml",
                    )
                new = patch.strategic_merge(base, body)
            else:
                raise ApiError(
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: application/json-patch+json, application/merge-patch+json, "
                    f"application/apply-patch+yaml (got {content_type!r})",
                )
            if not isinstance(new, dict):
                raise ApiError("BadRequest", "patch produced a non-object")
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
            return self._replace(res, old, new, subresource, dry_run, writer)

    def _apply(
        self,
        res: Resource,
        ns: str,
        name: str,
        old: Obj | None,
        body: Any,
        subresource: str,
        dry_run: bool,
        writer: Writer | None,
        force: bool,
    ) -> Obj:
        """Server-side apply: fieldmanager merges and settles ownership, then the
        result is stored as a create or an update whose managedFields are final."""
        if old is None and subresource:
            raise errors.not_found(res.plural, res.group, name)
        if not isinstance(body, dict):
            raise ApiError("BadRequest", "the body of the request was in an unknown format")
        body.setdefault("metadata", {})
        if isinstance(body["metadata"], dict):
            body["metadata"].setdefault("name", name)
            want_rv = body["metadata"].get("resourceVersion")
            if old is not None and want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(res.plural, res.group, name)
        live = self._typed(res, copy.deepcopy(old)) if old is not None else None
        applied = fieldmanager.apply(
            live,
            body,
            writer or SYSTEM,
            res.kind,
            res.api_version,
            force,
            _ignored(res, subresource, dict(body, **(live or {}))),
        )
        new = applied.obj
        meta = new.setdefault("metadata", {})
        if applied.entries:
            meta["managedFields"] = applied.entries
        else:
            meta.pop("managedFields", None)
        if old is None:
            return self.create(res, ns, new, dry_run, writer=None)
        return self._replace(res, old, new, subresource, dry_run, writer=None)

    def _replace(
        self,
        res: Resource,
        old: Obj,
        new: Obj,
        subresource: str,
        dry_run: bool,
        writer: Writer | None = SYSTEM,
    ) -> Obj:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        # System-owned metadata cannot be changed by a client.
        for key in (
            "uid",
            "creationTimestamp",
            "namespace",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "name",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        has_status = "status" in res.subresources
        if subresource == "status":
            # Only status changes through /status (metadata labels too, as upstream).
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            new["metadata"] = meta
            new["metadata"]["finalizers"] = old_meta.get("finalizers")
            if new["metadata"]["finalizers"] is None:
                new["metadata"].pop("finalizers")
        elif has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        if res.kind == "Namespace" and subresource != "finalize":
            new["spec"] = copy.deepcopy(old.get("spec", {}))
        if subresource == "finalize":
            kept = copy.deepcopy(old)
            kept["spec"] = new.get("spec", {})
            new = kept
        # Upstream the request is defaulted (at decoding, or by the field manager after
        # an apply) before the strategy compares specs for the generation, so leaving
        # defaulted fields out changes no spec; nor does dropping a null, which typed
        # objects do not have.
        defaults.default(res, new)
        spec_changed = fieldpaths.clean(new.get("spec")) != fieldpaths.clean(old.get("spec"))
        if res.kind in _STATUS_KINDS_WITH_SPEC_GENERATION and spec_changed:
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        self._admit(res, new, old, writer, subresource)
        # After admission, which prunes what a custom object's schema does not know.
        if (res.custom or res == crds.CRDS) and crds.generation_changed(res, new, old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        new.pop("apiVersion", None)
        new.pop("kind", None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if new == old:
            return self._typed(res, new)  # no-op writes do not bump resourceVersion
        if dry_run:
            return self._typed(res, new)
        if self._finished(res, new):
            return self._typed(res, self.store.remove(rkey(res), new))
        return self._typed(res, self.store.put(rkey(res), new, "MODIFIED"))

    @staticmethod
    def _finished(res: Resource, obj: Obj) -> bool:
        """A deleted object leaves storage once no finalizer and no grace period holds it."""
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return False
        if res.kind == "Namespace":
            return not (obj.get("spec") or {}).get("finalizers")
        return not meta.get("deletionGracePeriodSeconds")

    # -- delete ------------------------------------------------------------
    def delete(
        self, res: Resource, ns: str, name: str, options: Obj | None = None, dry_run: bool = False
    ) -> tuple[Obj, bool]:
        """Returns (object or Status, finished)."""
        options = options or {}
        with self.store.lock:
            obj = self.find(res, ns, name)
            if obj is None:
                raise errors.not_found(res.plural, res.group, name)
            meta = obj["metadata"]
            pre = options.get("preconditions") or {}
            if (pre.get("uid") and pre["uid"] != meta.get("uid")) or (
                pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]
            ):
                raise errors.conflict(res.plural, res.group, name)
            if res == PRIORITY_CLASSES:
                priorityclasses.check_delete(name)
            if dry_run:
                return self._typed(res, obj), False
            if res.kind == "Namespace":
                if name in _UNDELETABLE_NAMESPACES:
                    raise ApiError(
                        "Forbidden",
                        f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                        {"name": name, "kind": "namespaces"},
                    )
                if not meta.get("deletionTimestamp"):
                    meta["deletionTimestamp"] = now()
                    meta["deletionGracePeriodSeconds"] = 0
                    obj.setdefault("status", {})["phase"] = "Terminating"
                    obj = self.store.put(rkey(res), obj, "MODIFIED")
                return self._typed(res, obj), False
            if res == crds.CRDS:
                crds.mark_terminating(obj)
            policy = options.get("propagationPolicy")
            if policy is None and options.get("orphanDependents") is True:
                policy = "Orphan"
            had = list(meta.get("finalizers") or [])
            finalizers = list(had)
            if policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            elif policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            if finalizers:
                meta["finalizers"] = finalizers
            grace = self._grace(res, obj, options.get("gracePeriodSeconds"))
            pending = bool(finalizers) or grace > 0
            if not pending:
                final = self.store.remove(rkey(res), obj)
                if res.kind in RETURNS_DELETED_OBJECT:
                    return self._typed(res, final), True
                return success_status(res, final), True
            changed = False
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = _after(grace)
                meta["deletionGracePeriodSeconds"] = grace
                changed = True
            elif grace < int(meta.get("deletionGracePeriodSeconds") or 0):
                meta["deletionGracePeriodSeconds"] = grace
                meta["deletionTimestamp"] = _after(grace)
                changed = True
            if finalizers != had:
                changed = True
            if changed:
                obj = self.store.put(rkey(res), obj, "MODIFIED")
            return self._typed(res, obj), False

    def _grace(self, res: Resource, obj: Obj, requested: Any) -> int:
        """Graceful deletion applies to pods a kubelet is running, as upstream."""
        if res.kind != "Pod":
            return 0
        node = obj.get("spec", {}).get("nodeName")
        phase = obj.get("status", {}).get("phase")
        if not node or phase in ("Succeeded", "Failed"):
            return 0
        if self.store.get(rkey(NODES), "", node) is None:
            return 0  # what the pod GC does for pods of a vanished node
        if requested is not None:
            return max(0, int(requested))
        return int(obj["spec"].get("terminationGracePeriodSeconds", 30))


def _ident(obj: Obj) -> tuple[str, str]:  # (namespace, name)
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _sort_key(obj: Obj) -> tuple[str, str]:
    return _ident(obj)
