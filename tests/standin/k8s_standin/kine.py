"""An external SQL datastore in kine's layout, for `--datastore-endpoint`.

k3s keeps its state in PostgreSQL or MySQL through kine: one table, `kine`, to which
every write appends a row whose `id` is the new revision (so an object's
resourceVersion is the id of its latest row) and whose `name` is the etcd key the
API server uses, `/registry/<resource>/<namespace>/<name>`. Deletes append a row
with `deleted` set. The current state is the newest row of each name.

Values are stored as JSON here; real API servers store built-in kinds as protobuf.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from . import resources

log = logging.getLogger("k8s_standin")

Obj = dict[str, Any]
Row = tuple[str, str, str, Obj]  # rkey, namespace, name, object

#: Where kube-apiserver's storage departs from "/registry/<plural>" (its
#: DefaultStorageFactory resource prefixes): group/plural -> key prefix.
PREFIXES = {
    "/services": "/registry/services/specs",
    "/endpoints": "/registry/services/endpoints",
    "networking.k8s.io/ingresses": "/registry/ingress",
    "/nodes": "/registry/minions",
    # apiextensions-apiserver keeps its group in the key, unlike the built-in groups.
    "apiextensions.k8s.io/customresourcedefinitions": (
        "/registry/apiextensions.k8s.io/customresourcedefinitions"
    ),
}
#: Groups whose resources live at "/registry/<plural>"; any other group (custom
#: resources) is keyed "/registry/<group>/<plural>".
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "policy",
        "autoscaling",
        "networking.k8s.io",
        "storage.k8s.io",
        "rbac.authorization.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "events.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
    }
)

SCHEMA = {
    "postgres": (
        "CREATE TABLE IF NOT EXISTS kine (id BIGSERIAL PRIMARY KEY, name VARCHAR(630), "
        "created INTEGER, deleted INTEGER, create_revision BIGINT, prev_revision BIGINT, "
        "lease INTEGER, value BYTEA, old_value BYTEA)"
    ),
    "mysql": (
        "CREATE TABLE IF NOT EXISTS kine (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, "
        "name VARCHAR(630) CHARACTER SET ascii, created INTEGER, deleted INTEGER, "
        "create_revision BIGINT UNSIGNED, prev_revision BIGINT UNSIGNED, lease INTEGER, "
        "value MEDIUMBLOB, old_value MEDIUMBLOB)"
    ),
}
INSERT = (
    "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, lease, "
    "value, old_value) VALUES (%s, %s, %s, %s, %s, %s, 0, %s, %s)"
)
LATEST = (
    "SELECT k.id, k.name, k.deleted, k.value, k.create_revision FROM kine k "
    "JOIN (SELECT name, MAX(id) AS id FROM kine GROUP BY name) m ON k.id = m.id"
)


def _prefix(rkey: str) -> str:
    group, _, plural = rkey.partition("/")
    return PREFIXES.get(rkey) or (
        f"/registry/{plural}" if group in BUILTIN_GROUPS else f"/registry/{group}/{plural}"
    )


def key_of(rkey: str, ns: str, name: str) -> str:
    prefix = _prefix(rkey)
    return f"{prefix}/{ns}/{name}" if ns else f"{prefix}/{name}"


#: Key prefix -> the store's "<group>/<plural>", for the resources the stand-in serves.
#: Stored objects carry no kind, so a row's key is what tells its resource. Where two
#: groups share a prefix (events), the first listed wins.
_BY_PREFIX: dict[str, str] = {}
for _res in resources.RESOURCES:
    _BY_PREFIX.setdefault(_prefix(f"{_res.group}/{_res.plural}"), f"{_res.group}/{_res.plural}")


def rkey_of(key: str) -> str | None:
    """The store's "<group>/<plural>" for a row's key, or None for keys of no resource
    served here. Custom resources carry their group in the key."""
    for prefix in sorted(_BY_PREFIX, key=len, reverse=True):
        if key.startswith(prefix + "/"):
            return _BY_PREFIX[prefix]
    parts = key.split("/")
    if len(parts) > 4 and "." in parts[2]:
        return f"{parts[2]}/{parts[3]}"
    return None


def scheme(endpoint: str) -> str | None:
    """ "postgres" or "mysql" for an endpoint this module serves, else None."""
    kind = endpoint.split("://", 1)[0].lower()
    return {"postgres": "postgres", "postgresql": "postgres", "mysql": "mysql"}.get(kind)


def _connect_postgres(endpoint: str) -> Any:
    import psycopg2

    return psycopg2.connect(endpoint.replace("postgresql://", "postgres://", 1))


def _connect_mysql(endpoint: str) -> Any:
    import pymysql

    # mysql://user:password@tcp(host:port)/database, the Go driver's DSN k3s takes.
    rest = endpoint.split("://", 1)[1]
    credentials, _, location = rest.rpartition("@")
    user, _, password = credentials.partition(":")
    address, _, database = location.partition(")/")
    host, _, port = address.removeprefix("tcp(").partition(":")
    return pymysql.connect(
        host=host,
        port=int(port or 3306),
        user=urllib.parse.unquote(user),
        password=urllib.parse.unquote(password),
        database=database.split("?")[0],
        autocommit=True,
    )


CONNECT: dict[str, Callable[[str], Any]] = {
    "postgres": _connect_postgres,
    "mysql": _connect_mysql,
}


class KineTable:
    """A Store backend writing through to the `kine` table of an SQL database."""

    def __init__(self, endpoint: str, *, wait_s: float = 60.0) -> None:
        kind = scheme(endpoint)
        if kind is None:
            raise ValueError(f"not a postgres:// or mysql:// endpoint: {endpoint.split(':')[0]}")
        self.kind = kind
        self._db = self._connect(endpoint, wait_s)
        if kind == "postgres":
            self._db.autocommit = True
        with self._db.cursor() as cur:
            cur.execute(SCHEMA[kind])
        # Per key: the revision it was created at, and its latest revision.
        self._revisions: dict[str, tuple[int, int]] = {}

    def _connect(self, endpoint: str, wait_s: float) -> Any:
        # Like k3s, keep trying while the database comes up.
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return CONNECT[self.kind](endpoint)
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("Failed to test data store connection: %s", exc)
                time.sleep(1.0)

    def load(self) -> tuple[list[Row], int]:
        """The current objects, and the newest revision in the table."""
        rows: list[Row] = []
        with self._db.cursor() as cur:
            cur.execute(LATEST)
            latest = cur.fetchall()
            cur.execute("SELECT MAX(id) FROM kine")
            (newest,) = cur.fetchone()
        for row_id, name, deleted, value, created in latest:
            if deleted or not value:
                continue
            self._revisions[str(name)] = (int(created or row_id), int(row_id))
            obj = json.loads(bytes(value))
            rkey = rkey_of(str(name))
            if rkey is not None:
                meta = obj["metadata"]
                rows.append((rkey, meta.get("namespace", ""), meta["name"], obj))
        return rows, int(newest or 0)

    def write(self, rkey: str, ns: str, name: str, obj: Obj | None, rv: int) -> None:
        key = key_of(rkey, ns, name)
        created_at, previous = self._revisions.get(key, (0, 0))
        if obj is None:
            flags = (0, 1)
        elif created_at == 0:
            flags, created_at = (1, 0), rv
        else:
            flags = (0, 0)
        value = None if obj is None else json.dumps(obj, separators=(",", ":")).encode()
        with self._db.cursor() as cur:
            cur.execute(INSERT, (rv, key, *flags, created_at, previous, value, None))
        self._revisions[key] = (0, rv) if obj is None else (created_at, rv)

    def close(self) -> None:
        self._db.close()
