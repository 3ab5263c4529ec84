"""Ingress: the IngressClasses and the default class are the profile's, and HTTP
through the ingress controller reaches backends by host and by path."""

from __future__ import annotations

import pytest

from pytest_k8sdistro.suite import (
    Cluster,
    Distro,
    Kube,
    Workloads,
    expect,
    host_get_until,
    host_port,
    http_get,
)

DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"


def test_ingress_classes_match_profile(distro: Distro, kube: Kube) -> None:
    want = distro.expectations
    classes = kube.networking.list_ingress_class().items
    names = sorted(c.metadata.name for c in classes)
    defaults = sorted(
        c.metadata.name
        for c in classes
        if (c.metadata.annotations or {}).get(DEFAULT_ANNOTATION) == "true"
    )
    listing = "IngressClasses: " + (
        ", ".join(f"{c.metadata.name} (controller {c.spec.controller})" for c in classes) or "none"
    )
    expect(
        names == sorted(want.ingress_classes),
        "the IngressClasses differ from the profile's"
        + (" (absent, as claimed, would mean none)" if not want.ingress_classes else ""),
        expected=f"IngressClasses {sorted(want.ingress_classes) or 'none'}",
        found=f"IngressClasses {names or 'none'}",
        evidence=listing,
    )
    expected_defaults = [want.default_ingress_class] if want.default_ingress_class else []
    expect(
        defaults == expected_defaults,
        "the default IngressClass differs from the profile's",
        expected=f"default IngressClass {want.default_ingress_class or 'none'}",
        found=f"default(s): {defaults or 'none'}",
        evidence=listing,
    )


@pytest.mark.distro_feature("ingress")
def test_http_reaches_backends_by_host_and_path(
    distro: Distro, cluster: Cluster, work: Workloads
) -> None:
    ingress_class = (
        distro.expectations.default_ingress_class or distro.expectations.ingress_classes[0]
    )
    for name in ("alpha", "beta"):
        work.web(name)
        work.service(name)
    host_a = f"a.{work.namespace}.k8sdistro.test"
    host_b = f"b.{work.namespace}.k8sdistro.test"
    work.apply(
        "ingress.yaml",
        name="routes",
        ingress_class=ingress_class,
        host_a=host_a,
        host_b=host_b,
        service_a="alpha",
        service_b="beta",
    )
    port = host_port(cluster, 80, f"the {ingress_class} ingress", work.evidence)
    base = f"http://127.0.0.1:{port}"
    timeout = work.timeouts.wait
    routes = [
        (host_a, "/alpha/", "web:alpha", "by path /alpha"),
        (host_a, "/beta/", "web:beta", "by path /beta"),
        (host_b, "/", "web:beta", "by host"),
    ]
    for host, path, expected, how in routes:
        host_get_until(
            f"HTTP through the {ingress_class} ingress does not reach its backend {how}",
            base + path,
            host=host,
            expected=expected,
            timeout=timeout,
            evidence=work.evidence,
        )
    # A host no rule names must not reach these backends.
    status, body = http_get(base + "/alpha/", host=f"nobody.{work.namespace}.k8sdistro.test")
    expect(
        "web:" not in body,
        "the ingress routed a request for a host no rule names",
        expected="no backend of this test answers (404 from the controller)",
        found=f"HTTP {status}: {body.strip()[:200]!r}",
        evidence=work.evidence,
    )
