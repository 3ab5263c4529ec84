"""Access control: whether RBAC authorizes requests out of the box, as the profile says.

A ServiceAccount of the test's namespace gets a token through the TokenRequest API
(``serviceaccounts/<name>/token``) and asks with it. Where the profile claims RBAC
(``rbac``), a fresh account may not list Secrets and a SelfSubjectAccessReview says
so; bound to the ``view`` ClusterRole in its namespace it may list Pods but still not
Secrets (``view`` leaves Secrets out, kubernetes/kubernetes bootstrappolicy). Where
the profile claims no RBAC, the same account is allowed everything, which the checks
then assert, so a changed default is noticed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.suite import Distro, Kube, NotYet, expect, fail, wait_for

ACCOUNT = "access-probe"


def _with_token(kube: Kube, token: str) -> Kube:
    """A client that authenticates with ``token`` only (no client certificate)."""
    config = copy.copy(kube.api.configuration)
    config.cert_file = None
    config.key_file = None
    config.api_key = {"authorization": f"Bearer {token}"}
    config.api_key_prefix = {}
    config.refresh_api_key_hook = None
    return Kube(client.ApiClient(config))


@pytest.fixture
def account(kube: Kube, namespace: str) -> Iterator[Kube]:
    """A fresh ServiceAccount in the test's namespace, as a client with its token."""
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": ACCOUNT}})
    try:
        answer = kube.core.create_namespaced_service_account_token(
            ACCOUNT, namespace, {"spec": {"expirationSeconds": 600}}
        )
    except ApiException as exc:
        fail(
            "the TokenRequest API gave no token for a fresh ServiceAccount",
            expected=f"201 with a token for serviceaccounts/{ACCOUNT}/token",
            found=f"{exc.status} {exc.reason}: {(exc.body or '')[:300]}",
            evidence=f"namespace {namespace}",
        )
    token = answer.status.token
    expect(
        bool(token),
        "the TokenRequest answer carries no token",
        expected="status.token set",
        found=repr(answer.status),
    )
    as_account = _with_token(kube, token)
    yield as_account
    as_account.api.close()


def _attempt(call: Callable[[], Any]) -> tuple[int, str]:
    """(HTTP status, message) of an API call: 200 when it succeeded."""
    try:
        call()
    except ApiException as exc:
        return exc.status, (exc.body or exc.reason or "")[:400]
    return 200, ""


def _can_i(kube: Kube, namespace: str, verb: str, resource: str) -> Any:
    review = client.AuthorizationV1Api(kube.api).create_self_subject_access_review(
        {
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "resource": resource,
                }
            }
        }
    )
    return review.status


def _user(namespace: str) -> str:
    return f"system:serviceaccount:{namespace}:{ACCOUNT}"


def test_a_fresh_service_account_is_refused_where_rbac_is_on(
    distro: Distro, account: Kube, namespace: str
) -> None:
    rbac = distro.expectations.rbac
    status, message = _attempt(lambda: account.core.list_namespaced_secret(namespace))
    review = _can_i(account, namespace, "list", "secrets")
    evidence = (
        f"as {_user(namespace)}: GET secrets -> {f'{status} {message}'.strip()}; "
        f"SelfSubjectAccessReview list secrets -> allowed={review.allowed} "
        f"reason={review.reason!r}"
    )
    if rbac:
        expect(
            status == 403,
            f"{distro.name} claims RBAC, yet a ServiceAccount with no bindings listed Secrets",
            expected="403 Forbidden for list secrets",
            found=f"{status} {message}".strip(),
            evidence=evidence,
        )
        expect(
            review.allowed is False,
            "a SelfSubjectAccessReview says a ServiceAccount with no bindings may list Secrets",
            expected="status.allowed false",
            found=f"allowed={review.allowed}",
            evidence=evidence,
        )
        return
    expect(
        status == 200 and review.allowed is True,
        f"{distro.name} claims no RBAC (every request admitted), yet a ServiceAccount was refused",
        expected="list secrets allowed, and the review says allowed",
        found=f"{status} {message}; review allowed={review.allowed}",
        evidence=evidence,
    )


def test_the_view_role_reads_pods_but_not_secrets(
    distro: Distro, kube: Kube, account: Kube, namespace: str
) -> None:
    rbac = distro.expectations.rbac
    client.RbacAuthorizationV1Api(kube.api).create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": f"{ACCOUNT}-view"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "view",
            },
            "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": namespace}],
        },
    )

    def pods_listed() -> str:
        status, message = _attempt(lambda: account.core.list_namespaced_pod(namespace))
        if status == 403:
            # Authorizers read bindings from a cache: a new binding takes a moment.
            raise NotYet(f"list pods still 403: {message}")
        if status != 200:
            fail(
                "listing pods with the ServiceAccount's token failed",
                expected="200 after the RoleBinding to view",
                found=f"{status} {message}",
            )
        return "listed"

    wait_for(
        f"{_user(namespace)} bound to ClusterRole view to list pods",
        pods_listed,
        expected="list pods allowed (view grants get/list/watch on pods)",
        timeout=30,
    )
    status, message = _attempt(lambda: account.core.list_namespaced_secret(namespace))
    review = _can_i(account, namespace, "list", "secrets")
    evidence = (
        f"RoleBinding {ACCOUNT}-view -> ClusterRole view; as {_user(namespace)}: "
        f"GET secrets -> {status} {message}; review allowed={review.allowed}"
    )
    if rbac:
        expect(
            status == 403 and review.allowed is False,
            "the view ClusterRole lets a ServiceAccount list Secrets",
            expected="403 for list secrets (view excludes Secrets upstream) and a review saying no",
            found=f"{status} {message}; review allowed={review.allowed}",
            evidence=evidence,
        )
        return
    expect(
        status == 200,
        f"{distro.name} claims no RBAC, yet listing Secrets was refused",
        expected="list secrets allowed",
        found=f"{status} {message}",
        evidence=evidence,
    )
