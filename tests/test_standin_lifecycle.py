"""Stand-in process behaviour: command lines, credentials, persistence, fault switches."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import shutil
import socket
import ssl
import stat
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from k8s_standin import testing
from kubernetes import client, config


def core_api(kubeconfig: Path | dict[str, Any]) -> client.CoreV1Api:
    if isinstance(kubeconfig, dict):
        return client.CoreV1Api(config.new_client_from_config_dict(kubeconfig))
    return client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))


def wait_until(check: Any, timeout: float, what: str) -> float:
    """Poll `check()` until truthy; returns the time it took."""
    __tracebackhide__ = True
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    pytest.fail(f"{what} not seen within {timeout}s")


def raw_get(standin: testing.StandIn, path: str, token: str | None = None) -> tuple[int, bytes]:
    """GET as the administrator (the kubeconfig's certificate), or with a bearer token."""
    if token is None:
        ctx = standin.admin_context()
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(standin.url + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# -- k3s credentials ----------------------------------------------------------


def test_k3s_kubeconfig_token_and_tls(tmp_path: Path) -> None:
    standin = testing.k3s(tmp_path, "--tls-san", "api.example.test", "--token", "s3cret")
    with testing.running(standin):
        mode = stat.S_IMODE(standin.kubeconfig.stat().st_mode)
        assert mode == 0o600, oct(mode)
        kc = yaml.safe_load(standin.kubeconfig.read_text())
        cluster = kc["clusters"][0]["cluster"]
        assert cluster["server"] == f"https://127.0.0.1:{standin.port}"
        user = kc["users"][0]["user"]
        assert user["client-certificate-data"] and user["client-key-data"]
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
        # The CA verifies the serving certificate for every advertised name.
        for name in ("127.0.0.1", "localhost", "api.example.test", "10.43.0.1"):
            ctx = ssl.create_default_context(cadata=ca_pem.decode())
            with (
                socket.create_connection(("127.0.0.1", standin.port), timeout=5) as sock,
                ctx.wrap_socket(sock, server_hostname=name) as tls,
            ):
                assert tls.version()
        token = (tmp_path / "data" / "server" / "token").read_text().strip()
        assert token == f"K10{hashlib.sha256(ca_pem).hexdigest()}::server:s3cret"
        assert (tmp_path / "data" / "server" / "node-token").read_text().strip() == token
        if shutil.which("kubectl"):
            env_kc = dict(standin.env, KUBECONFIG=str(standin.kubeconfig))
            out = subprocess.run(
                standin.command("kubectl", "get", "ns", "default", "-o", "name"),
                env=env_kc,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert out.stdout.strip() == "namespace/default", out.stderr
        assert (tmp_path / "data" / "server" / "db" / "state.db").exists()
        status, body = raw_get(standin, "/standin/cluster-config", token)
        assert status == 200 and json.loads(body)["clusterDNS"] == ["10.43.0.10"]
        assert raw_get(standin, "/standin/cluster-config", "wrong")[0] == 401
        assert raw_get(standin, "/cacerts")[1] == ca_pem


def test_k3s_version_flag_and_mode(tmp_path: Path) -> None:
    standin = testing.k3s(
        tmp_path,
        "--write-kubeconfig-mode",
        "644",
        "--cluster-init",
        env={"STANDIN_VERSION": "v1.31.4+k3s1"},
    )
    out = standin.run("--version")
    assert out.returncode == 0 and "v1.31.4+k3s1" in out.stdout
    with testing.running(standin):
        assert stat.S_IMODE(standin.kubeconfig.stat().st_mode) == 0o644
        assert (tmp_path / "data" / "server" / "db" / "etcd").is_dir()
        status, body = raw_get(standin, "/version")
        assert status == 200 and json.loads(body)["gitVersion"] == "v1.31.4+k3s1"


# -- persistence ----------------------------------------------------------------


def test_restart_keeps_objects_and_resource_versions(tmp_path: Path) -> None:
    standin = testing.k3s(tmp_path)
    with testing.running(standin):
        core = core_api(standin.kubeconfig)
        core.create_namespace({"metadata": {"name": "keep"}})
        cm = core.create_namespaced_config_map(
            "keep", {"metadata": {"name": "c"}, "data": {"a": "1"}}
        )
        svc = core.create_namespaced_service(
            "keep", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
        )
        before = int(core.list_namespace().metadata.resource_version)
        assert standin.stop() == 0, standin.log()  # SIGTERM is a clean exit
        ca_before = standin.kubeconfig.read_text()
        standin.start()
        standin.wait_for()
        assert standin.kubeconfig.read_text() == ca_before  # same CA and client cert
        core = core_api(standin.kubeconfig)
        again = core.read_namespaced_config_map("c", "keep")
        assert again.data == {"a": "1"} and again.metadata.uid == cm.metadata.uid
        assert again.metadata.resource_version == cm.metadata.resource_version
        assert core.read_namespaced_service("s", "keep").spec.cluster_ip == svc.spec.cluster_ip
        new = core.create_namespaced_config_map("keep", {"metadata": {"name": "d"}})
        assert int(new.metadata.resource_version) > before
        # Watching from before the restart is "too old", like a compacted etcd.
        status, body = raw_get(standin, "/api/v1/namespaces?watch=1&resourceVersion=1")
        event = json.loads(body.splitlines()[0])
        assert status == 200 and event["type"] == "ERROR"
        assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


# -- fault switches ---------------------------------------------------------------


def test_never_ready(tmp_path: Path) -> None:
    standin = testing.k3s(tmp_path, env={"STANDIN_NEVER_READY": "1"})
    with testing.running(standin, wait="/livez"):
        time.sleep(0.5)  # give a wrongly-ready server the chance to flip
        assert standin.probe("/readyz") == 500
        assert standin.probe("/livez") == 200
        assert "k3s is up and running" not in standin.log()


def test_api_down_window(tmp_path: Path) -> None:
    standin = testing.k3s(
        tmp_path, env={"STANDIN_API_DOWN_AFTER": "1", "STANDIN_API_DOWN_FOR": "2"}
    )
    with testing.running(standin):
        wait_until(lambda: standin.probe("/livez") is None, 5, "connection refused")
        down_for = wait_until(lambda: standin.probe("/livez") == 200, 8, "API back")
        assert 1.0 < down_for < 6.0
        assert standin.proc is not None and standin.proc.poll() is None
        assert core_api(standin.kubeconfig).read_namespace("default").metadata.name


def test_hold_memory(tmp_path: Path) -> None:
    standin = testing.k3s(tmp_path, env={"STANDIN_HOLD_MEMORY_MIB": "256"})
    with testing.running(standin):
        assert standin.proc is not None
        rss = psutil.Process(standin.proc.pid).memory_info().rss
        assert rss >= 256 * 1024 * 1024, f"RSS {rss / 2**20:.0f} MiB"


# -- k0s --------------------------------------------------------------------------

K0S_DUAL = """\
  network:
    podCIDR: 10.244.0.0/16
    serviceCIDR: 10.96.0.0/12
    dualStack:
      enabled: true
      IPv6podCIDR: fd00::/108
      IPv6serviceCIDR: fd01::/108
"""


def test_k0s_controller_commands(tmp_path: Path) -> None:
    standin = testing.k0s(tmp_path, "--enable-worker", env={"STANDIN_VERSION": "v1.36.3+k0s.2"})
    assert standin.run("status").returncode != 0  # nothing running yet
    with testing.running(standin):
        data = tmp_path / "k0s"
        assert (data / "etcd" / "standin.db").exists()
        out = standin.run("kubeconfig", "admin", "--data-dir", str(data))
        assert out.returncode == 0, out.stderr
        admin = yaml.safe_load(out.stdout)
        assert admin["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{standin.port}"
        core = core_api(admin)
        svc = core.read_namespaced_service("kubernetes", "default")
        assert svc.spec.cluster_ip == "10.96.0.1"

        out = standin.run("token", "create", "--role=worker", "--data-dir", str(data))
        assert out.returncode == 0, out.stderr
        joined = yaml.safe_load(gzip.decompress(base64.b64decode(out.stdout.strip())))
        assert joined["clusters"][0]["cluster"]["server"] == f"https://127.0.0.1:{standin.port}"
        token = joined["users"][0]["user"]["token"]
        status, body = raw_get(standin, "/standin/cluster-config", token)
        settings = json.loads(body)
        assert status == 200 and settings["clusterCIDRs"] == ["10.244.0.0/16"]
        assert settings["clusterDNS"] == ["10.96.0.10"]

        out = standin.run("status", "--data-dir", str(data))
        assert out.returncode == 0 and "Role: controller" in out.stdout
        assert "Workloads: true" in out.stdout
        assert standin.run("version").stdout.strip() == "v1.36.3+k0s.2"
    assert standin.run("status", "--data-dir", str(data)).returncode != 0


def test_k0s_dual_stack_from_config(tmp_path: Path) -> None:
    standin = testing.k0s(tmp_path, "--single", config=K0S_DUAL)
    with testing.running(standin):
        core = core_api(standin.kubeconfig)
        core.create_namespaced_service(
            "default",
            {
                "metadata": {"name": "both"},
                "spec": {"ipFamilyPolicy": "RequireDualStack", "ports": [{"port": 80}]},
            },
        )
        svc = core.read_namespaced_service("both", "default")
        assert svc.spec.ip_families == ["IPv4", "IPv6"]
        assert svc.spec.cluster_ips[1].startswith("fd01::")


def test_k0s_kubeconfig_admin_without_controller(tmp_path: Path) -> None:
    standin = testing.k0s(tmp_path)
    out = standin.run("kubeconfig", "admin", "--data-dir", str(tmp_path / "nothing"))
    assert out.returncode != 0 and "admin.conf" in out.stderr


def test_unknown_paths_answer_with_status(tmp_path: Path) -> None:
    standin = testing.k3s(tmp_path)
    with testing.running(standin):
        for path in ("/api/v1/widgets", "/apis/apps/v1/namespaces/default/widgets/x"):
            status, body = raw_get(standin, path)
            assert status == 404 and json.loads(body)["kind"] == "Status", body
        status, body = raw_get(standin, "/openapi/v3")
        assert status == 200 and "apis/apps/v1" in json.loads(body)["paths"]
        ctx = standin.admin_context()
        request = urllib.request.Request(
            standin.url + "/api/v1/namespaces",
            headers={"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"},
        )
        with urllib.request.urlopen(request, context=ctx, timeout=5) as resp:
            listed = json.loads(resp.read())
        assert listed["kind"] == "PartialObjectMetadataList"
        assert {"kind", "apiVersion", "metadata"} == set(listed["items"][0])
