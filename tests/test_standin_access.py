"""The stand-in's authentication and authorization against upstream's behaviour."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from k8s_standin import access, authz, testing
from k8s_standin.authn import ANONYMOUS, User
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from pytest_k8sdistro.kube.api import api_client


@pytest.fixture(scope="module")
def k3s(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing.StandIn]:
    with testing.running(testing.k3s(tmp_path_factory.mktemp("k3s"))) as standin:
        yield standin


@pytest.fixture(scope="module")
def admin(k3s: testing.StandIn) -> client.ApiClient:
    return api_client(k3s.kubeconfig)


def call(
    standin: testing.StandIn,
    path: str,
    token: str | None = None,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: object = None,
) -> tuple[int, dict[str, object]]:
    """(status, decoded body) of a request with only ``token`` (or nothing) as credentials."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(standin.url + path, method=method, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def token_for(admin: client.ApiClient, ns: str, name: str, seconds: int = 600) -> str:
    core = client.CoreV1Api(admin)
    try:
        core.create_namespaced_service_account(ns, {"metadata": {"name": name}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    answer = core.create_namespaced_service_account_token(
        name, ns, {"spec": {"expirationSeconds": seconds}}
    )
    return str(answer.status.token)


def test_k3s_refuses_anonymous_requests_even_for_health(k3s: testing.StandIn) -> None:
    # --anonymous-auth=false (pkg/daemons/control/server.go).
    for path in ("/livez", "/version", "/api/v1/namespaces"):
        status, body = call(k3s, path)
        assert (status, body.get("reason")) == (401, "Unauthorized"), (path, body)
    assert call(k3s, "/readyz", token="not-a-jwt")[0] == 401
    assert k3s.probe("/readyz") == 200  # with the admin certificate


def test_a_token_stops_working_when_its_account_is_deleted(
    k3s: testing.StandIn, admin: client.ApiClient
) -> None:
    token = token_for(admin, "default", "short-lived")
    status, review = call(
        k3s,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        token,
        "POST",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    assert status == 201, review
    info = review["status"]["userInfo"]  # type: ignore[index]
    assert info["username"] == "system:serviceaccount:default:short-lived"
    assert info["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    assert call(k3s, "/version", token)[0] == 200  # system:public-info-viewer
    client.CoreV1Api(admin).delete_namespaced_service_account("short-lived", "default")
    assert call(k3s, "/version", token)[0] == 401


def test_token_requests_are_validated(admin: client.ApiClient) -> None:
    core = client.CoreV1Api(admin)
    # An account of the test's own: "default" appears only once its controller ran.
    core.create_namespaced_service_account("default", {"metadata": {"name": "short-lived"}})
    with pytest.raises(ApiException) as too_short:
        core.create_namespaced_service_account_token(
            "short-lived", "default", {"spec": {"expirationSeconds": 60}}
        )
    assert too_short.value.status == 422
    assert "may not specify a duration less than 10 minutes" in too_short.value.body
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_service_account_token("nobody-here", "default", {"spec": {}})
    assert missing.value.status == 404


def test_forbidden_messages_and_impersonation(
    k3s: testing.StandIn, admin: client.ApiClient
) -> None:
    token = token_for(admin, "default", "plain")
    status, body = call(k3s, "/api/v1/nodes/some-node", token)
    assert status == 403
    assert body["message"] == (
        'nodes "some-node" is forbidden: User "system:serviceaccount:default:plain" cannot '
        'get resource "nodes" in API group "" at the cluster scope'
    )
    assert body["details"] == {"group": "", "kind": "nodes", "name": "some-node"}
    status, body = call(k3s, "/metrics", token)
    assert body["message"] == (
        'forbidden: User "system:serviceaccount:default:plain" cannot get path "/metrics"'
    )
    # A plain account may not impersonate anyone.
    status, body = call(k3s, "/api/v1/namespaces", token, headers={"Impersonate-User": "jane"})
    assert status == 403 and 'cannot impersonate resource "users"' in str(body["message"])
    # The administrator may: jane is then an ordinary authenticated user.
    status, body = call(
        k3s,
        "/api/v1/namespaces/default/pods",
        headers={"Impersonate-User": "jane"},
    )
    assert status == 401  # no credentials of its own: impersonation needs authentication
    review = client.AuthorizationV1Api(admin).create_subject_access_review(
        {
            "spec": {
                "user": "jane",
                "groups": ["system:authenticated"],
                "resourceAttributes": {"verb": "create", "resource": "selfsubjectreviews"},
            }
        }
    )
    assert review.status.allowed is False  # the group is authentication.k8s.io's
    review = client.AuthorizationV1Api(admin).create_subject_access_review(
        {
            "spec": {
                "user": "jane",
                "groups": ["system:authenticated"],
                "resourceAttributes": {
                    "verb": "create",
                    "group": "authentication.k8s.io",
                    "resource": "selfsubjectreviews",
                },
            }
        }
    )
    assert review.status.allowed is True  # system:basic-user


def test_request_attributes() -> None:
    class Args(dict[str, str]):
        pass

    def attrs(method: str, path: str, **args: str) -> authz.Attributes:
        return authz.attributes(method, path, Args(args))

    watch = attrs("GET", "/api/v1/namespaces/a/pods", watch="true")
    assert (watch.verb, watch.namespace, watch.resource) == ("watch", "a", "pods")
    assert attrs("DELETE", "/apis/apps/v1/namespaces/a/deployments").verb == "deletecollection"
    log = attrs("GET", "/api/v1/namespaces/a/pods/p/log")
    assert (log.verb, log.subresource, log.name) == ("get", "log", "p")
    ns = attrs("GET", "/api/v1/namespaces/a")
    assert (ns.resource, ns.namespace, ns.name) == ("namespaces", "a", "a")
    named = attrs("GET", "/api/v1/namespaces/a/secrets", fieldSelector="metadata.name=s")
    assert (named.verb, named.name) == ("list", "s")
    assert not attrs("GET", "/apis/apps/v1").resource_request


def test_microk8s_mode_follows_its_args_file(tmp_path: Path) -> None:
    """`microk8s enable rbac` rewrites --authorization-mode; the authorizer follows."""
    args = tmp_path / "kube-apiserver"
    args.write_text("--secure-port=16443\n--authorization-mode=AlwaysAllow\n")

    class Empty:
        def list(self, *_: object) -> dict[str, list[object]]:
            return {"items": []}

    control = access.AccessControl(
        Empty(),  # type: ignore[arg-type]
        access.AccessOptions(mode="AlwaysAllow", anonymous=True, args_file=args),
    )
    secrets = authz.Attributes("list", True, namespace="x", resource="secrets")
    user = User("jane", ("system:authenticated",))
    assert control.authorizer.authorize(user, secrets)[0] is True
    args.write_text("--secure-port=16443\n--authorization-mode=RBAC,Node\n")
    assert control.authorizer.authorize(user, secrets)[0] is False
    assert control.authorizer.authorize(ANONYMOUS, secrets)[0] is False
