"""End-to-end check of netns pod networking inside a throwaway network namespace.

Meant to run as root under `unshare --net --mount --propagation private`, so the
bridge, veths, pod namespaces and iptables rules it creates vanish with it and the
host's network is never touched. It gives the sandbox a node address on a veth,
hides /run behind a tmpfs (for /run/netns), starts a k3s stand-in with
STANDIN_POD_NETWORK=netns, then checks from a client pod: cluster DNS through the
kube-dns ClusterIP, HTTP to a Service ClusterIP (kube-proxy DNAT) and pod IPs from
the node's pod CIDR. Prints one JSON object with what it found.

Run: unshare --net --mount --propagation private \
         python3 -m k8s_standin.node.selfcheck DIR [iptables|userspace] [dual]
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from .client import Client, Credentials
from .killall import killall
from .testing import wait_for

NODE_IP = "192.168.77.1"
NODE_IP6 = "fd77::1"
PORT = 6443

WEB = (
    "import http.server, os, socket\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = ('web:' + os.environ['HOSTNAME']).encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "class S(http.server.HTTPServer):\n"
    "    address_family = socket.AF_INET6\n"
    "    def server_bind(self):\n"
    "        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n"
    "        super().server_bind()\n"
    "S(('::', 8080), H).serve_forever()\n"
)
CLIENT = (
    "import os, socket, time, urllib.request\n"
    "name = 'web.default.svc.cluster.local.'\n"
    "families = [('RESULT', socket.AF_INET, '{}')]\n"
    "if os.environ.get('DUAL'):\n"
    "    families.append(('RESULT6', socket.AF_INET6, '[{}]'))\n"
    "while True:\n"
    "    for tag, family, fmt in families:\n"
    "        try:\n"
    "            ip = socket.getaddrinfo(name, 80, family)[0][4][0]\n"
    "            url = 'http://' + fmt.format(ip) + '/'\n"
    "            body = urllib.request.urlopen(url, timeout=3).read().decode()\n"
    "            print(tag, ip, body, flush=True)\n"
    "        except Exception as err:\n"
    "            print('ERROR', tag, repr(err), flush=True)\n"
    "    time.sleep(1)\n"
)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def sandbox_network(dual: bool) -> None:
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p")
    sh("ip", "addr", "add", f"{NODE_IP}/24", "dev", "eth0")
    sh("ip", "link", "set", "eth0p", "up")
    sh("ip", "link", "set", "eth0", "up")
    sh("ip", "route", "add", "default", "dev", "eth0")  # nodes have one; ClusterIPs need it
    if dual:
        sh("ip", "-6", "addr", "add", f"{NODE_IP6}/64", "dev", "eth0", "nodad")
        sh("ip", "-6", "route", "add", "default", "dev", "eth0")
    sh("mount", "-t", "tmpfs", "tmpfs", "/run")


def deployment(name: str, script: str, dual: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": name,
                            "image": "python:3",
                            "command": ["python3", "-c", script],
                            "env": [{"name": "DUAL", "value": "1" if dual else ""}],
                        }
                    ],
                },
            },
        },
    }


PROBE = (
    "import time, urllib.request\n"
    "while True:\n"
    "    try:\n"
    "        urllib.request.urlopen('http://web.default.svc.cluster.local/', timeout=2).read()\n"
    "        print('PROBE', time.time(), 'OK', flush=True)\n"
    "    except Exception as err:\n"
    "        print('PROBE', time.time(), 'FAIL', repr(err), flush=True)\n"
    "    time.sleep(0.5)\n"
)


def bare_pod(name: str, ns: str, labels: dict[str, str], script: str) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": "python:3",
        "command": ["python3", "-c", script],
    }
    if script is WEB:
        container["ports"] = [{"name": "http", "containerPort": 8080}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
    }


# Probing pods and what each should see while the policies below exist.
PROBERS = {
    ("default", "allowed"): ({"role": "frontend"}, "OK"),
    ("default", "denied"): ({"role": "other"}, "FAIL"),
    ("other", "peer"): ({"role": "frontend"}, "OK"),
    ("other", "stranger"): ({"role": "other"}, "FAIL"),
    ("default", "egress"): ({"role": "frontend", "egress": "limited"}, "FAIL"),
}


def netpol_check(api: Client, base: Path, result: dict[str, Any]) -> None:
    """NetworkPolicy enforcement: ingress by pod/namespace selector and named port, egress
    by ipBlock with `except`, replies allowed, and everything open again once deleted."""
    api.create(
        "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
    )
    wait_for(lambda: api.get("serviceaccounts", "default", "other"), 30, "default SA in other")
    api.create("pods", bare_pod("web", "default", {"app": "web"}, WEB), "default")
    api.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        "default",
    )
    for (ns, name), (labels, _) in PROBERS.items():
        api.create("pods", bare_pod(name, ns, labels, PROBE), ns)
    logs = base / "log" / "pods"

    def verdicts(after: float) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for ns, name in PROBERS:
            seen = []
            for path in logs.glob(f"{ns}_{name}_*/{name}/*.log"):
                for line in path.read_text().splitlines():
                    words = line.split(" F ", 1)[-1].split()
                    if len(words) >= 3 and words[0] == "PROBE" and float(words[1]) > after:
                        seen.append(words[2])
            out[f"{ns}/{name}"] = seen[-2:]
        return out

    def settled(after: float, expect: dict[str, str]) -> dict[str, list[str]] | None:
        now = verdicts(after)
        ok = all(len(v) == 2 and set(v) == {expect[k]} for k, v in now.items())
        return now if ok else None

    everyone_ok = {f"{ns}/{name}": "OK" for ns, name in PROBERS}
    web = wait_for(
        lambda: (p := api.get("pods", "web", "default"))["status"].get("podIP") and p,
        90,
        "web pod IP",
    )
    result["baseline"] = wait_for(lambda: settled(0, everyone_ok), 90, "every prober reaching web")
    api.create(
        "networkpolicies",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "web-ingress"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"role": "frontend"}}},
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "other"}
                                },
                                "podSelector": {"matchLabels": {"role": "frontend"}},
                            },
                        ],
                        "ports": [{"port": "http"}],
                    }
                ],
            },
        },
        "default",
    )
    api.create(
        "networkpolicies",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "limited-egress"},
            "spec": {
                "podSelector": {"matchLabels": {"egress": "limited"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "ipBlock": {
                                    "cidr": "0.0.0.0/0",
                                    "except": [web["status"]["podIP"] + "/32"],
                                }
                            }
                        ]
                    }
                ],
            },
        },
        "default",
    )
    enforced_since = time.time()
    expect = {f"{ns}/{name}": verdict for (ns, name), (_, verdict) in PROBERS.items()}
    try:
        result["enforced"] = wait_for(
            lambda: settled(enforced_since, expect), 60, "policies enforced"
        )
    except AssertionError as err:
        result["enforced"] = None
        result["enforcedSeen"] = verdicts(enforced_since)
        result["filter"] = subprocess.run(
            ["iptables-save", "-t", "filter"], capture_output=True, text=True
        ).stdout[-4000:]
        result["log"] = (base / "standin.log").read_text()[-3000:]
        result["error"] = str(err)
        return
    for name in ("web-ingress", "limited-egress"):
        api.delete("networkpolicies", name, "default")
    lifted_since = time.time()
    try:
        result["lifted"] = wait_for(
            lambda: settled(lifted_since, everyone_ok), 60, "policies lifted"
        )
    except AssertionError as err:
        result["lifted"] = None
        result["liftedSeen"] = verdicts(lifted_since)
        result["error"] = str(err)


def service_check(api: Client, base: Path, dual: bool, result: dict[str, Any]) -> None:
    """A client pod reaches a Service through cluster DNS and kube-proxy's DNAT."""
    api.create("deployments", deployment("web", WEB), "default")
    api.create(
        "services",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"app": "web"},
                "ipFamilyPolicy": "PreferDualStack" if dual else "SingleStack",
                "ports": [{"port": 80, "targetPort": 8080}],
            },
        },
        "default",
    )
    api.create("deployments", deployment("client", CLIENT, dual), "default")
    node = wait_for(
        lambda: (nodes := api.list("nodes")) and nodes[0]["spec"].get("podCIDR") and nodes[0],
        30,
        "a node with a pod CIDR",
    )
    result["podCIDR"] = node["spec"]["podCIDR"]

    def pod(app: str) -> Any:
        pods = [
            p
            for p in api.list("pods", "default")
            if p["metadata"].get("labels", {}).get("app") == app
            and p.get("status", {}).get("phase") == "Running"
        ]
        return pods[0] if pods else None

    web = wait_for(lambda: pod("web"), 60, "web pod running")
    client = wait_for(lambda: pod("client"), 60, "client pod running")
    result["webIP"] = web["status"]["podIP"]
    result["webIPs"] = [p["ip"] for p in web["status"].get("podIPs") or []]
    result["clientIP"] = client["status"]["podIP"]
    result["inPodCIDR"] = all(
        ipaddress.ip_address(p) in ipaddress.ip_network(result["podCIDR"])
        for p in (result["webIP"], result["clientIP"])
    )
    cluster_ip = api.get("services", "web", "default")["spec"]["clusterIP"]
    result["clusterIP"] = cluster_ip
    logs = base / "log" / "pods"

    def client_result(tag: str) -> str | None:
        for path in logs.glob("default_client-*/client/*.log"):
            for line in path.read_text().splitlines():
                text = line.split(" F ", 1)[-1]
                if text.startswith(tag + " "):
                    return text
        return None

    try:
        result["fromPod"] = wait_for(
            lambda: client_result("RESULT"), 60, "the client pod's request"
        )
        if dual:
            result["fromPod6"] = wait_for(
                lambda: client_result("RESULT6"), 30, "the client pod's IPv6 request"
            )
    except AssertionError as err:
        result["fromPod"] = None
        result["clientLog"] = "\n".join(
            p.read_text()[-1500:] for p in logs.glob("default_client-*/client/*.log")
        )
        result["error"] = str(err)
    try:
        body = wait_for(
            lambda: urllib.request.urlopen(f"http://{cluster_ip}/", timeout=3).read().decode(),
            20,
            "node to ClusterIP",
        )
        result["fromNode"] = body
    except AssertionError as err:
        result["fromNode"] = None
        result["nodeError"] = str(err)
    result["kubeChains"] = (
        "KUBE-SERVICES"
        in subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True).stdout
    )
    if not (result.get("fromPod") and result.get("fromNode")):
        result["debug"] = {
            "nat": subprocess.run(
                ["iptables-save", "-t", "nat"], capture_output=True, text=True
            ).stdout[-3000:],
            "ip_forward": Path("/proc/sys/net/ipv4/ip_forward").read_text().strip(),
            "routes": subprocess.run(["ip", "route"], capture_output=True, text=True).stdout,
        }


def main(argv: list[str]) -> int:
    base = Path(argv[0])
    base.mkdir(parents=True, exist_ok=True)
    dual = "dual" in argv[2:]
    sandbox_network(dual)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDIN_")}
    env.update(
        {
            "STANDIN_POD_NETWORK": "netns",
            "STANDIN_ROOT": str(base / "root"),
            "STANDIN_LOG_ROOT": str(base / "log"),
            "STANDIN_BIND_ADDRESS": "0.0.0.0",
            "STANDIN_SYNC_INTERVAL": "0.3",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
    )
    mode = argv[1] if len(argv) > 1 else "iptables"
    if mode == "userspace":
        env["STANDIN_PROXY_MODE"] = "userspace"
    kubeconfig = base / "kubeconfig.yaml"
    out = open(base / "standin.log", "wb")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "k8s_standin",
            "k3s",
            "server",
            "--data-dir",
            str(base / "data"),
            "--https-listen-port",
            str(PORT),
            *(
                [
                    "--node-ip",
                    f"{NODE_IP},{NODE_IP6}",
                    "--cluster-cidr",
                    "10.42.0.0/16,fd42::/56",
                    "--service-cidr",
                    "10.43.0.0/16,fd43::/112",
                ]
                if dual
                else ["--node-ip", NODE_IP]
            ),
            "--write-kubeconfig",
            str(kubeconfig),
            "--disable",
            "traefik",
            "--disable",
            "metrics-server",
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    result: dict[str, Any] = {"proxyMode": mode, "dual": dual}
    try:
        wait_for(kubeconfig.exists, 30, "kubeconfig")
        creds = Credentials.from_kubeconfig(kubeconfig)
        creds.server = f"https://127.0.0.1:{PORT}"
        api = Client(creds)
        wait_for(lambda: api.get("serviceaccounts", "default", "default"), 30, "default SA")
        if mode == "netpol":
            netpol_check(api, base, result)
        else:
            service_check(api, base, dual, result)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        killall(base)
        time.sleep(0.5)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
