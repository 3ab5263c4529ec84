"""External datastores: what k3s is given, how the databases are queried, and the
stand-in's kine layout."""

from __future__ import annotations

import time

import pytest
from k8s_standin import kine

from pytest_k8sdistro.errors import ProvisionError
from pytest_k8sdistro.model.cluster import Cluster
from pytest_k8sdistro.model.datastore import DATASTORES, ExternalDatastore
from pytest_k8sdistro.progress import Progress
from pytest_k8sdistro.provisioners.docker import datastore


def test_endpoints_follow_the_k3s_datastore_docs() -> None:
    postgres, mysql = DATASTORES["postgres"], DATASTORES["mysql"]
    assert postgres.endpoint("db", "pw") == "postgres://kine:pw@db:5432/kubernetes?sslmode=disable"
    assert mysql.endpoint("db", "pw") == "mysql://kine:pw@tcp(db:3306)/kubernetes"


def test_official_images_are_configured_by_their_environment() -> None:
    assert DATASTORES["postgres"].environment("pw") == {
        "POSTGRES_USER": "kine",
        "POSTGRES_PASSWORD": "pw",
        "POSTGRES_DB": "kubernetes",
    }
    mysql = DATASTORES["mysql"].environment("pw")
    assert mysql["MYSQL_USER"] == "kine" and mysql["MYSQL_PASSWORD"] == "pw"
    assert mysql["MYSQL_DATABASE"] == "kubernetes" and mysql["MYSQL_ROOT_PASSWORD"] != "pw"
    # Readiness is asked over TCP, which the images' initialising servers do not serve.
    assert "127.0.0.1" in DATASTORES["postgres"].ready_command()
    assert "127.0.0.1" in DATASTORES["mysql"].ready_command()


def test_queries_quote_the_sql_and_keep_the_password_out_of_the_command() -> None:
    command = DATASTORES["postgres"].query_command("SELECT 'x'")
    assert command.endswith("-c 'SELECT '\"'\"'x'\"'\"''") and "pw" not in command
    assert DATASTORES["mysql"].password_env("pw") == {"MYSQL_PWD": "pw"}


def test_a_cluster_keeps_its_datastore_through_json() -> None:
    store = ExternalDatastore("postgres", "docker://abc", "postgres:17", "pw")
    cluster = Cluster("k", "k3s", "v1", "docker", "/k", "https://x", datastore=store)
    again = Cluster.from_dict(cluster.to_dict())
    assert again.datastore == store
    assert Cluster.from_dict(Cluster("k", "k3s", "v1", "d", "/k", "x").to_dict()).datastore is None


@pytest.mark.parametrize(
    ("rkey", "ns", "name", "key"),
    [
        ("/configmaps", "default", "a", "/registry/configmaps/default/a"),
        ("/namespaces", "", "team", "/registry/namespaces/team"),
        ("apps/deployments", "ns", "web", "/registry/deployments/ns/web"),
        ("/services", "ns", "web", "/registry/services/specs/ns/web"),
        ("/nodes", "", "n1", "/registry/minions/n1"),
        ("example.com/widgets", "ns", "w", "/registry/example.com/widgets/ns/w"),
    ],
)
def test_kine_rows_are_named_by_the_apiservers_etcd_keys(
    rkey: str, ns: str, name: str, key: str
) -> None:
    assert kine.key_of(rkey, ns, name) == key


def test_kine_rows_map_back_to_the_stores_resources() -> None:
    # Stored objects carry no kind: the key alone must tell the resource.
    assert kine.rkey_of("/registry/deployments/ns/w") == "apps/deployments"
    assert kine.rkey_of("/registry/serviceaccounts/kube-system/default") == "/serviceaccounts"
    assert kine.rkey_of("/registry/services/specs/ns/web") == "/services"
    assert kine.rkey_of("/registry/services/endpoints/ns/web") == "/endpoints"
    assert kine.rkey_of("/registry/minions/n1") == "/nodes"
    assert kine.rkey_of("/registry/example.com/widgets/ns/w") == "example.com/widgets"
    assert kine.rkey_of("/bootstrap/abc") is None


def test_kine_serves_only_sql_endpoints() -> None:
    assert kine.scheme("postgres://u:p@h:5432/db") == "postgres"
    assert kine.scheme("mysql://u:p@tcp(h:3306)/db") == "mysql"
    assert kine.scheme("sqlite:///var/lib/state.db") is None
    assert kine.scheme("https://etcd:2379") is None


class _Container:
    id = "c0ffee"
    status = "running"

    def exec_run(self, command: list[str], environment: dict[str, str]) -> tuple[int, bytes]:
        return 126, b'exec: "pg_isready": executable file not found in $PATH'

    def reload(self) -> None:
        pass


class _Engine:
    def __init__(self) -> None:
        self.images = self
        self.containers = self
        self.started: dict[str, object] = {}

    def get(self, ref: str) -> object:
        return type("Image", (), {"id": "sha256:1"})()

    def run(self, ref: str, **options: object) -> _Container:
        self.started = options
        return _Container()


def test_an_image_without_the_official_client_fails_at_once() -> None:
    engine = _Engine()
    with pytest.raises(ProvisionError, match="acme/pg:1 has no pg_isready"):
        datastore.start(
            engine,  # type: ignore[arg-type]
            DATASTORES["postgres"],
            image="acme/pg:1",
            name="k8sdistro-x-datastore",
            network="k8sdistro-x",
            labels={"a": "b"},
            volumes=lambda image, name, paths: {},
            deadline=time.monotonic() + 600,
            say=lambda message: None,
            progress=Progress(),
        )
    # On the cluster's own network, labelled, published nowhere.
    assert engine.started["network"] == "k8sdistro-x" and engine.started["labels"] == {"a": "b"}
    assert "ports" not in engine.started
    assert engine.started["environment"]["POSTGRES_DB"] == "kubernetes"  # type: ignore[index]
