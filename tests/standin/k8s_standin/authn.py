"""Who is asking: client certificates, service-account tokens, anonymous requests.

As kube-apiserver's authenticators (k8s.io/apiserver pkg/authentication):
- x509: a client certificate the cluster CA signed; user = CN, groups = every O
  (`--client-ca-file`). TLS verifies the chain and the dates.
- service-account tokens: RS256 JWTs signed with the service-account key
  (`--service-account-signing-key-file`), checked for signature, expiry, issuer
  (`--service-account-issuer`) and audience (`--api-audiences`), and that the
  ServiceAccount (and a bound Pod or Secret) still exists with the token's uid
  (pkg/serviceaccount/claims.go, `validator.Validate`).
- anonymous: system:anonymous in system:unauthenticated, where `--anonymous-auth` is
  not false (k3s and k0s set it false).

Authenticated users also get the group system:authenticated.

Tokens are signed and checked in plain Python (RSA PKCS#1 v1.5 over SHA-256) with the
key's numbers read once through the openssl CLI, which every place the stand-in runs
in has; no JWT or crypto library is needed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
MASTERS = "system:masters"
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def info(self) -> Obj:
        """The UserInfo of SelfSubjectReview and SubjectAccessReview statuses."""
        out: Obj = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            out["uid"] = self.uid
        if self.extra:
            out["extra"] = {k: list(v) for k, v in self.extra.items()}
        return out


ANONYMOUS = User("system:anonymous", (UNAUTHENTICATED,))


class Unauthorized(Exception):
    """Credentials were presented and are not good: 401 whatever anonymous allows."""


def with_authenticated(name: str, groups: tuple[str, ...], **kw: Any) -> User:
    groups = tuple(dict.fromkeys(g for g in groups if g != AUTHENTICATED))
    return User(name, (*groups, AUTHENTICATED), **kw)


def from_certificate(peer: Mapping[str, Any] | None) -> User | None:
    """User of a verified client certificate (`ssl.SSLSocket.getpeercert()`)."""
    if not peer:
        return None
    cn, orgs = "", []
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    if not cn:
        return None
    return with_authenticated(cn, tuple(orgs))


def service_account_user(ns: str, name: str, uid: str = "", extra: Obj | None = None) -> User:
    return with_authenticated(
        f"{SA_PREFIX}{ns}:{name}",
        ("system:serviceaccounts", f"system:serviceaccounts:{ns}"),
        uid=uid,
        extra=extra or {},
    )


# -- RS256 without a library --------------------------------------------------------

_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _openssl_numbers(key: Path) -> dict[str, int]:
    out = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-noout", "-text"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    numbers: dict[str, int] = {}
    current = ""
    for line in out.splitlines():
        head = re.match(r"^(\w+):\s*(\d+)?", line)
        if head:
            current = head.group(1)
            if head.group(2):  # publicExponent: 65537 (0x10001)
                numbers[current] = int(head.group(2))
                current = ""
            else:
                numbers[current] = 0
            continue
        if current:
            hexpart = line.strip().replace(":", "")
            if re.fullmatch(r"[0-9a-fA-F]+", hexpart):
                numbers[current] = (numbers[current] << (4 * len(hexpart))) | int(hexpart, 16)
    return numbers


def ensure_key(path: Path) -> None:
    """An RSA 2048 service-account key, as k3s and k0s generate (kept across restarts)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "genrsa", "-out", str(path), "2048"], check=True, capture_output=True
    )
    path.chmod(0o600)


@dataclass
class TokenConfig:
    key: Path
    issuer: str
    audiences: tuple[str, ...]
    #: Extra copies of the key where the distribution keeps it (k3s: service.key).
    copies: tuple[Path, ...] = ()


class ServiceAccountTokens:
    """Issue and verify service-account JWTs (TokenRequest, projected volumes)."""

    def __init__(self, config: TokenConfig) -> None:
        ensure_key(config.key)
        for copy in config.copies:
            if not copy.exists():
                copy.write_bytes(config.key.read_bytes())
                copy.chmod(0o600)
        self.config = config
        numbers = _openssl_numbers(config.key)
        self._n, self._e, self._d = (
            numbers["modulus"],
            numbers["publicExponent"],
            numbers["privateExponent"],
        )
        self._size = (self._n.bit_length() + 7) // 8
        der = subprocess.run(
            ["openssl", "rsa", "-in", str(config.key), "-pubout", "-outform", "DER"],
            check=True,
            capture_output=True,
        ).stdout
        # kid: upstream's keyIDFromPublicKey, the base64url SHA-256 of the DER public key.
        self.kid = _b64url(hashlib.sha256(der).digest())
        self._verified: dict[str, Obj] = {}
        self._lock = threading.Lock()

    def _emsa(self, message: bytes) -> int:
        digest = _SHA256_PREFIX + hashlib.sha256(message).digest()
        padded = b"\x00\x01" + b"\xff" * (self._size - len(digest) - 3) + b"\x00" + digest
        return int.from_bytes(padded, "big")

    def sign(self, claims: Obj) -> str:
        header = {"alg": "RS256", "kid": self.kid}
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = pow(self._emsa(signing_input.encode()), self._d, self._n)
        return signing_input + "." + _b64url(signature.to_bytes(self._size, "big"))

    def issue(
        self,
        ns: str,
        name: str,
        sa_uid: str,
        audiences: tuple[str, ...] = (),
        seconds: int = 3600,
        bound: Obj | None = None,
    ) -> tuple[str, int]:
        """(token, expiry as a Unix time), claims laid out as pkg/serviceaccount/claims.go."""
        now = int(time.time())
        private: Obj = {"namespace": ns, "serviceaccount": {"name": name, "uid": sa_uid}}
        if bound:
            private[bound["kind"].lower()] = {"name": bound["name"], "uid": bound["uid"]}
        claims = {
            "aud": list(audiences or self.config.audiences),
            "exp": now + seconds,
            "iat": now,
            "iss": self.config.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": now,
            "sub": f"{SA_PREFIX}{ns}:{name}",
        }
        return self.sign(claims), now + seconds

    def claims(self, token: str) -> Obj | None:
        """The token's claims if its signature is ours, else None (not one of ours)."""
        with self._lock:
            cached = self._verified.get(token)
        if cached is not None:
            return cached
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            header = json.loads(_unb64url(parts[0]))
            claims = json.loads(_unb64url(parts[1]))
            signature = int.from_bytes(_unb64url(parts[2]), "big")
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict) or header.get("alg") != "RS256":
            return None
        signed = (parts[0] + "." + parts[1]).encode()
        if signature >= self._n or pow(signature, self._e, self._n) != self._emsa(signed):
            return None
        if not isinstance(claims, dict):
            return None
        with self._lock:
            if len(self._verified) > 4096:
                self._verified.clear()
            self._verified[token] = claims
        return claims

    def authenticate(self, token: str, lookup: Callable[[str, str, str], Obj | None]) -> User:
        """The service account of a token of ours; Unauthorized when it is not good.

        ``lookup(resource, namespace, name)`` finds a stored object (serviceaccounts,
        pods, secrets) so that deleted accounts and pods invalidate their tokens."""
        claims = self.claims(token)
        if claims is None:
            raise Unauthorized("invalid bearer token")
        now = time.time()
        if claims.get("iss") != self.config.issuer:
            raise Unauthorized("token issuer is not this cluster's")
        if float(claims.get("exp", 0)) < now or float(claims.get("nbf", 0)) > now + 60:
            raise Unauthorized("service account token has expired")
        aud = claims.get("aud") or []
        aud = [aud] if isinstance(aud, str) else aud
        if not set(aud) & set(self.config.audiences):
            raise Unauthorized("token audiences are not valid for this API server")
        private = claims.get("kubernetes.io") or {}
        ns = private.get("namespace", "")
        sa = private.get("serviceaccount") or {}
        account = lookup("serviceaccounts", ns, sa.get("name", ""))
        if account is None or account["metadata"].get("uid") != sa.get("uid"):
            raise Unauthorized("service account token has been invalidated")
        extra: Obj = {}
        for kind, plural in (("pod", "pods"), ("secret", "secrets")):
            ref = private.get(kind)
            if not ref:
                continue
            obj = lookup(plural, ns, ref.get("name", ""))
            if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
                raise Unauthorized(f"service account token has been invalidated ({kind} gone)")
            if kind == "pod":
                extra["authentication.kubernetes.io/pod-name"] = (ref["name"],)
                extra["authentication.kubernetes.io/pod-uid"] = (ref["uid"],)
        if claims.get("jti"):
            extra["authentication.kubernetes.io/credential-id"] = (f"JTI={claims['jti']}",)
        return service_account_user(ns, sa.get("name", ""), sa.get("uid", ""), extra)
