"""Access control of every API request: authenticate, impersonate, authorize; and the
APIs that ask about it (access reviews, SelfSubjectReview, TokenRequest).

The order is kube-apiserver's handler chain (k8s.io/apiserver pkg/server/config.go
DefaultBuildHandlerChain): authentication (401 when credentials are bad, or absent
where anonymous requests are off), impersonation (the `impersonate` verb on users,
groups, serviceaccounts and uids), then authorization (403, with
handlers/responsewriters' message).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Request

from . import authn, authz
from .authn import User
from .errors import ApiError
from .registry import Registry
from .resources import get

log = logging.getLogger("k8s_standin.access")
Obj = dict[str, Any]
_MIN_EXPIRATION = 600  # ValidateTokenRequest: "less than 10 minutes"
_MAX_EXPIRATION = 1 << 32


@dataclass
class AccessOptions:
    """How a distribution runs kube-apiserver, as far as access goes."""

    #: --authorization-mode: "Node,RBAC" (k3s, k0s), "AlwaysAllow" (microk8s's default).
    mode: str = "Node,RBAC"
    #: --anonymous-auth (k3s and k0s set it false; the upstream default is true).
    anonymous: bool = False
    tokens: authn.TokenConfig | None = None
    #: Fault STANDIN_AUTHZ_ALWAYS_ALLOW: every authenticated request is admitted.
    always_allow: bool = False
    #: microk8s: $SNAP_DATA/args/kube-apiserver, whose --authorization-mode wins over
    #: ``mode`` and is read again when the file changes (the rbac addon edits it).
    args_file: Path | None = None


def mode_in_args(path: Path) -> str | None:
    """--authorization-mode from a microk8s args file, or None."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "--authorization-mode":
            return value.strip().strip("'\"")
    return None


def _time(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unauthorized() -> ApiError:
    return ApiError("Unauthorized", "Unauthorized", code=401)


class AccessControl:
    def __init__(self, registry: Registry, options: AccessOptions) -> None:
        self.registry = registry
        self.options = options
        self._mode_stamp: tuple[float, str] | None = None
        self._authorizer = authz.Authorizer(self._mode(), self._list)
        self.tokens = (
            authn.ServiceAccountTokens(options.tokens) if options.tokens is not None else None
        )

    def _mode(self) -> str:
        if self.options.always_allow:
            return "AlwaysAllow"
        if self.options.args_file is not None:
            return mode_in_args(self.options.args_file) or self.options.mode
        return self.options.mode

    @property
    def authorizer(self) -> authz.Authorizer:
        """The authorizer of the current mode. microk8s's kubelite is restarted when
        its args change; here the running server reads the file again instead."""
        path = self.options.args_file
        if path is not None and not self.options.always_allow:
            try:
                stamp = (os.stat(path).st_mtime, str(os.stat(path).st_size))
            except OSError:
                stamp = (0.0, "")
            if stamp != self._mode_stamp:
                self._mode_stamp = stamp
                mode = self._mode()
                if mode != ",".join(self._authorizer.modes):
                    log.info("authorization mode is now %s", mode)
                    self._authorizer = authz.Authorizer(mode, self._list)
        return self._authorizer

    def _list(self, plural: str, ns: str | None) -> list[Obj]:
        res = get("rbac.authorization.k8s.io", "v1", plural)
        items: list[Obj] = self.registry.list(res, ns)["items"]
        return items

    def _find(self, plural: str, ns: str, name: str) -> Obj | None:
        return self.registry.find(get("", "v1", plural), ns, name)

    # -- the request chain -------------------------------------------------
    def authenticate(self, request: Request) -> User:
        user = authn.from_certificate(request.environ.get("standin.peer_cert"))
        if user is not None:
            return user
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            if self.tokens is None:
                raise unauthorized()
            try:
                return self.tokens.authenticate(token, self._find)
            except authn.Unauthorized as err:
                log.info("Unable to authenticate the request: %s", err)
                raise unauthorized() from None
        if header:
            raise unauthorized()
        if not self.options.anonymous:
            raise unauthorized()
        return authn.ANONYMOUS

    def impersonate(self, request: Request, user: User) -> User:
        headers = request.headers
        name = headers.get("Impersonate-User")
        groups = tuple(headers.getlist("Impersonate-Group"))
        uid = headers.get("Impersonate-Uid", "")
        extra = {
            key[len("Impersonate-Extra-") :].lower(): tuple(headers.getlist(key))
            for key, _ in headers.items()
            if key.lower().startswith("impersonate-extra-")
        }
        if name is None:
            if groups or uid or extra:
                raise ApiError(
                    "BadRequest",
                    "requested [{}] without impersonating a user".format(
                        ",".join([*(f"Group={g}" for g in groups), *(["UID"] if uid else [])])
                    ),
                )
            return user
        checks: list[authz.Attributes] = []
        if name.startswith(authn.SA_PREFIX) and name.count(":") == 3:
            ns, sa = name[len(authn.SA_PREFIX) :].split(":")
            checks.append(_impersonate("serviceaccounts", sa, ns))
            if not groups:
                groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns}")
        else:
            checks.append(_impersonate("users", name))
        checks += [_impersonate("groups", g) for g in groups]
        if uid:
            checks.append(_impersonate("uids", uid, group="authentication.k8s.io"))
        for key, values in extra.items():
            checks += [
                _impersonate("userextras", v, group="authentication.k8s.io", sub=key)
                for v in values
            ]
        for attrs in checks:
            allowed, reason = self.authorizer.authorize(user, attrs)
            if not allowed:
                raise forbidden(user, attrs, reason)
        if name == authn.ANONYMOUS.name:
            groups = (*groups, authn.UNAUTHENTICATED)
        elif authn.AUTHENTICATED not in groups:
            groups = (*groups, authn.AUTHENTICATED)
        return User(name, tuple(dict.fromkeys(groups)), uid=uid, extra=extra)

    def authorize(self, request: Request, path: str, user: User) -> None:
        attrs = authz.attributes(request.method, path, request.args)
        allowed, reason = self.authorizer.authorize(user, attrs)
        if not allowed:
            raise forbidden(user, attrs, reason)

    def user_of(self, request: Request, path: str) -> User:
        user = self.impersonate(request, self.authenticate(request))
        self.authorize(request, path, user)
        return user

    # -- reviews -----------------------------------------------------------
    def review(self, kind: str, api_version: str, ns: str, body: Obj, user: User) -> Obj:
        now = _time(dt.datetime.now(dt.UTC).timestamp())
        if kind == "SelfSubjectReview":
            return {
                "kind": kind,
                "apiVersion": api_version,
                "metadata": {"creationTimestamp": now},
                "status": {"userInfo": user.info()},
            }
        spec = dict(body.get("spec") or {})
        if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            if not spec.get("user") and not spec.get("groups"):
                raise ApiError(
                    "Invalid",
                    f'{kind}.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": '
                    "at least one of user or group must be specified",
                    {"kind": kind, "group": "authorization.k8s.io"},
                )
            subject = User(
                spec.get("user", ""),
                tuple(spec.get("groups") or ()),
                uid=spec.get("uid", ""),
            )
        else:
            subject = user
            spec["user"], spec["groups"] = user.name, list(user.groups)
        resource = spec.get("resourceAttributes")
        if kind == "LocalSubjectAccessReview" and (resource or {}).get("namespace", ns) != ns:
            raise ApiError(
                "BadRequest", f"spec.resourceAttributes.namespace must match namespace: {ns}"
            )
        if resource:
            attrs = authz.Attributes(
                verb=resource.get("verb", ""),
                resource_request=True,
                namespace=resource.get("namespace", ""),
                api_group=resource.get("group", ""),
                api_version=resource.get("version", ""),
                resource=resource.get("resource", ""),
                subresource=resource.get("subresource", ""),
                name=resource.get("name", ""),
            )
        else:
            non = spec.get("nonResourceAttributes") or {}
            attrs = authz.Attributes(
                verb=non.get("verb", ""), resource_request=False, path=non.get("path", "")
            )
        allowed, reason = self.authorizer.authorize(subject, attrs)
        status: Obj = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        if kind == "SelfSubjectAccessReview":
            spec.pop("user", None)
            spec.pop("groups", None)
        return {
            "kind": kind,
            "apiVersion": api_version,
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    # -- TokenRequest ------------------------------------------------------
    def token_request(self, ns: str, name: str, body: Obj) -> Obj:
        """pkg/registry/core/serviceaccount/storage/token.go."""
        account = self.registry.get(get("", "v1", "serviceaccounts"), ns, name)
        if self.tokens is None:
            raise ApiError("NotFound", "the server could not find the requested resource", {}, 404)
        spec = dict(body.get("spec") or {})
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < _MIN_EXPIRATION or seconds > _MAX_EXPIRATION:
            message = (
                "may not specify a duration less than 10 minutes"
                if seconds < _MIN_EXPIRATION
                else "may not specify a duration larger than 2^32 seconds"
            )
            raise ApiError(
                "Invalid",
                f'TokenRequest.authentication.k8s.io "{name}" is invalid: '
                f"spec.expirationSeconds: Invalid value: {seconds}: {message}",
                {
                    "name": name,
                    "group": "authentication.k8s.io",
                    "kind": "TokenRequest",
                    "causes": [
                        {
                            "reason": "FieldValueInvalid",
                            "message": f"Invalid value: {seconds}: {message}",
                            "field": "spec.expirationSeconds",
                        }
                    ],
                },
            )
        audiences = tuple(spec.get("audiences") or self.tokens.config.audiences)
        bound = None
        ref = spec.get("boundObjectRef")
        if ref:
            plural = {"Pod": "pods", "Secret": "secrets"}.get(ref.get("kind", ""))
            if plural is None:
                raise ApiError(
                    "BadRequest", f"cannot bind token for object of type {ref.get('kind')}"
                )
            target = self._find(plural, ns, ref.get("name", ""))
            if target is None:
                raise ApiError(
                    "NotFound",
                    f'{plural} "{ref.get("name")}" not found',
                    {"name": ref.get("name"), "kind": plural},
                )
            uid = target["metadata"]["uid"]
            if ref.get("uid") and ref["uid"] != uid:
                raise ApiError(
                    "Conflict",
                    f"the UID in the bound object reference ({ref['uid']}) does not match "
                    f"the UID in record. The object might have been deleted and then recreated",
                )
            bound = {"kind": ref["kind"], "name": ref["name"], "uid": uid}
        token, expiry = self.tokens.issue(
            ns, name, account["metadata"]["uid"], audiences, seconds, bound
        )
        spec.update(audiences=list(audiences), expirationSeconds=seconds)
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "creationTimestamp": _time(expiry - seconds),
            },
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": _time(expiry)},
        }


def _impersonate(
    resource: str, name: str, ns: str = "", group: str = "", sub: str = ""
) -> authz.Attributes:
    return authz.Attributes(
        verb="impersonate",
        resource_request=True,
        namespace=ns,
        api_group=group,
        resource=resource,
        subresource=sub,
        name=name,
    )


def forbidden(user: User, attrs: authz.Attributes, reason: str = "") -> ApiError:
    details: Obj = (
        {"group": attrs.api_group, "kind": attrs.resource} if attrs.resource_request else {}
    )
    if attrs.name:
        details["name"] = attrs.name
    return ApiError("Forbidden", authz.forbidden_message(user, attrs, reason), details, 403)
