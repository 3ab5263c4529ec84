"""External SQL datastores a control plane can keep its state in, started beside its node.

A distribution that takes an endpoint (the profile's ``datastores``) points it at
PostgreSQL or MySQL and stores every object there through kine, one row per write
in a table named ``kine`` (kine's SQL drivers). The official
database images are configured by environment variables and report readiness to
their own clients; both facts are data here, so provisioners only run them.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass
from typing import Any

#: Accepted by ``--distro-datastore``.
KINDS = ("postgres", "mysql")
#: The database every datastore is created with.
DATABASE = "kubernetes"
USER = "kine"


@dataclass(frozen=True)
class DatastoreKind:
    """How one database's official image is started, checked and queried."""

    name: str
    default_image: str
    port: int

    def environment(self, password: str) -> dict[str, str]:
        if self.name == "postgres":
            # docker-library/postgres: the superuser and its database are made at first start.
            return {"POSTGRES_USER": USER, "POSTGRES_PASSWORD": password, "POSTGRES_DB": DATABASE}
        # docker-library/mysql: root needs a password; MYSQL_USER gets all rights on
        # MYSQL_DATABASE.
        return {
            "MYSQL_ROOT_PASSWORD": secrets.token_hex(12),
            "MYSQL_DATABASE": DATABASE,
            "MYSQL_USER": USER,
            "MYSQL_PASSWORD": password,
        }

    def ready_command(self) -> list[str]:
        """Succeeds inside the container once the server takes TCP connections.

        Both images initialise with a temporary server that listens on the socket
        only, so asking over TCP waits for the real one.
        """
        if self.name == "postgres":
            host = ["-h", "127.0.0.1", "-p", str(self.port)]
            return ["pg_isready", *host, "-U", USER, "-d", DATABASE]
        host = ["-h", "127.0.0.1", "-P", str(self.port)]
        return ["mysqladmin", "ping", *host, "-u", USER, "--silent"]

    def endpoint(self, host: str, password: str) -> str:
        """The endpoint in kine's URL forms for PostgreSQL and MySQL."""
        if self.name == "postgres":
            return f"postgres://{USER}:{password}@{host}:{self.port}/{DATABASE}?sslmode=disable"
        return f"mysql://{USER}:{password}@tcp({host}:{self.port})/{DATABASE}"

    def query_command(self, sql: str) -> str:
        """A shell command printing ``sql``'s rows, one a line, columns tab-separated;
        the password comes in the client's own environment variable."""
        if self.name == "postgres":
            return (
                f"psql -h 127.0.0.1 -U {USER} -d {DATABASE} -At -F '\t' "
                f"-v ON_ERROR_STOP=1 -c {shlex.quote(sql)}"
            )
        return f"mysql -h 127.0.0.1 -u {USER} -D {DATABASE} -N -B -e {shlex.quote(sql)}"

    def password_env(self, password: str) -> dict[str, str]:
        return {"PGPASSWORD": password} if self.name == "postgres" else {"MYSQL_PWD": password}


DATASTORES: dict[str, DatastoreKind] = {
    "postgres": DatastoreKind("postgres", "postgres:17", 5432),
    "mysql": DatastoreKind("mysql", "mysql:8.4", 3306),
}


@dataclass
class ExternalDatastore:
    """A database a cluster keeps its state in, as recorded with the cluster."""

    kind: str
    #: A testinfra host spec reaching into the database's container or machine.
    host_spec: str
    image: str
    password: str

    def query(self, sql: str) -> list[list[str]]:
        """Rows of ``sql`` run with the database's own client, where it runs."""
        import testinfra

        kind = DATASTORES[self.kind]
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in kind.password_env(self.password).items())
        result = testinfra.get_host(self.host_spec).run(f"{env} {kind.query_command(sql)}")
        if result.rc != 0:
            raise RuntimeError(
                f"{self.kind} query failed (exit {result.rc}): {result.stderr.strip()[-400:]}"
            )
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ExternalDatastore | None:
        return cls(**data) if data else None
