"""Storage: the default StorageClass is the profile's, dynamic provisioning honours
its volumeBindingMode, data outlives the pod that wrote it, and volumes are reclaimed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.suite import (
    Distro,
    Kube,
    NotYet,
    Workloads,
    delete,
    expect,
    fail,
    hold_for,
    namespace_evidence,
    read_or_none,
    wait_for,
)

DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def _classes(kube: Kube) -> list[Any]:
    return list(kube.storage.list_storage_class().items)


def _describe(sc: Any) -> str:
    default = (sc.metadata.annotations or {}).get(DEFAULT_ANNOTATION) == "true"
    return (
        f"{sc.metadata.name} (provisioner {sc.provisioner}, {sc.volume_binding_mode}, "
        f"reclaim {sc.reclaim_policy}{', default' if default else ''})"
    )


def test_default_storage_class_matches_profile(distro: Distro, kube: Kube) -> None:
    want = distro.expectations
    classes = _classes(kube)
    defaults = [
        sc for sc in classes if (sc.metadata.annotations or {}).get(DEFAULT_ANNOTATION) == "true"
    ]
    listing = "StorageClasses: " + ("; ".join(map(_describe, classes)) or "none")
    if want.storage_class is None:
        expect(
            not defaults,
            f"{distro.name} claims no default StorageClass, yet one is set",
            expected="no StorageClass annotated as the default",
            found=", ".join(sc.metadata.name for sc in defaults),
            evidence=listing,
        )
        return
    names = [sc.metadata.name for sc in defaults]
    expect(
        names == [want.storage_class],
        "the default StorageClass is not the one the profile names",
        expected=f"exactly one default StorageClass, {want.storage_class}",
        found=f"default(s): {names or 'none'}",
        evidence=listing,
    )
    sc = defaults[0]
    expect(
        want.storage_provisioner is None or sc.provisioner == want.storage_provisioner,
        f"StorageClass {sc.metadata.name} uses another provisioner",
        expected=f"provisioner {want.storage_provisioner}",
        found=f"provisioner {sc.provisioner}",
        evidence=listing,
    )
    expect(
        want.volume_binding_mode is None or sc.volume_binding_mode == want.volume_binding_mode,
        f"StorageClass {sc.metadata.name} binds volumes differently",
        expected=f"volumeBindingMode {want.volume_binding_mode}",
        found=f"volumeBindingMode {sc.volume_binding_mode}",
        evidence=listing,
    )


def _default_class(kube: Kube) -> Any:
    for sc in _classes(kube):
        if (sc.metadata.annotations or {}).get(DEFAULT_ANNOTATION) == "true":
            return sc
    return None


def _wait_bound(work: Workloads, claim: str) -> Any:
    __tracebackhide__ = True

    def probe() -> Any:
        pvc = work.kube.core.read_namespaced_persistent_volume_claim(claim, work.namespace)
        if pvc.status.phase != "Bound":
            raise NotYet(f"PVC {claim} is {pvc.status.phase}")
        return pvc

    return wait_for(
        f"PVC {claim} to be bound to a provisioned volume",
        probe,
        expected=f"PVC {claim} Bound",
        timeout=work.timeouts.wait,
        evidence=work.evidence,
    )


def _run_with_volume(work: Workloads, name: str, claim: str, script: str) -> str:
    __tracebackhide__ = True
    work.apply("volume-pod.yaml", name=name, claim=claim, image=work.image, script=script)
    phase, logs = work.wait_done(name)
    expect(
        phase == "Succeeded",
        f"pod {name} with volume {claim} did not succeed",
        expected=f"pod {name} Succeeded",
        found=f"phase {phase}; output: {logs.strip()[-300:] or '(none)'}",
        evidence=work.evidence,
    )
    return logs


@pytest.mark.distro_feature("storage")
def test_provisioning_respects_the_binding_mode(
    distro: Distro, kube: Kube, work: Workloads
) -> None:
    sc = _default_class(kube)
    if sc is None:
        fail(
            "no default StorageClass to provision from",
            expected=f"default StorageClass {distro.expectations.storage_class}",
            found="none",
            evidence="StorageClasses: " + "; ".join(map(_describe, _classes(kube))),
        )
    work.apply("pvc.yaml", name="claim")
    if sc.volume_binding_mode == "WaitForFirstConsumer":

        def still_pending() -> str | None:
            pvc = kube.core.read_namespaced_persistent_volume_claim("claim", work.namespace)
            if pvc.status.phase != "Pending":
                return f"PVC claim became {pvc.status.phase} (volume {pvc.spec.volume_name})"
            return None

        hold_for(
            f"StorageClass {sc.metadata.name} is WaitForFirstConsumer, yet the claim bound early",
            still_pending,
            expected=f"PVC claim stays Pending for {work.timeouts.hold:g}s while no pod uses it",
            duration=work.timeouts.hold,
            evidence=work.evidence,
        )
    _run_with_volume(work, "consumer", "claim", "echo consumed > /data/marker")
    pvc = _wait_bound(work, "claim")
    pv = kube.core.read_persistent_volume(pvc.spec.volume_name)
    expect(
        pv.spec.storage_class_name == sc.metadata.name,
        "the bound volume does not come from the default StorageClass",
        expected=f"PV of class {sc.metadata.name}",
        found=f"PV {pv.metadata.name} of class {pv.spec.storage_class_name}",
        evidence=work.evidence,
    )


@pytest.mark.distro_feature("storage")
def test_data_outlives_its_writer_and_the_volume_is_reclaimed(kube: Kube, work: Workloads) -> None:
    sc = _default_class(kube)
    token = uuid.uuid4().hex
    work.apply("pvc.yaml", name="data")
    _run_with_volume(work, "writer", "data", f"echo {token} > /data/token && sync")
    logs = _run_with_volume(work, "reader", "data", "cat /data/token")
    expect(
        token in logs,
        "data written by one pod was not read back by the next",
        expected=f"reader prints {token}",
        found=logs.strip()[-300:] or "(nothing)",
        evidence=work.evidence,
    )
    volume = _wait_bound(work, "data").spec.volume_name
    policy = kube.core.read_persistent_volume(volume).spec.persistent_volume_reclaim_policy
    for pod in ("writer", "reader"):
        delete(kube.core.delete_namespaced_pod, pod, work.namespace)
    delete(kube.core.delete_namespaced_persistent_volume_claim, "data", work.namespace)

    def reclaimed() -> str:
        pv = read_or_none(kube.core.read_persistent_volume, volume)
        if policy == "Delete":
            if pv is not None:
                raise NotYet(f"PV {volume} still exists ({pv.status.phase})")
            return "deleted"
        if pv is None or pv.status.phase != "Released":
            raise NotYet(f"PV {volume}: {pv.status.phase if pv else 'gone'}")
        return "released"

    wait_for(
        f"volume {volume} to be reclaimed after its claim was deleted",
        reclaimed,
        expected=f"PV {volume} "
        + ("deleted" if policy == "Delete" else "Released")
        + f" (reclaimPolicy {policy} of StorageClass {sc.metadata.name if sc else '?'})",
        timeout=work.timeouts.wait,
        evidence=lambda: (
            namespace_evidence(kube, work.namespace) + f"\nPV {volume}: {_pv_state(kube, volume)}"
        ),
    )


def _pv_state(kube: Kube, name: str) -> str:
    try:
        pv = kube.core.read_persistent_volume(name)
    except ApiException as exc:
        return f"{exc.status} {exc.reason}"
    return f"phase {pv.status.phase}, finalizers {pv.metadata.finalizers}"
