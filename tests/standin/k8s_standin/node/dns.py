"""Cluster DNS, the process inside the stand-in's CoreDNS pod.

Answers A/AAAA for `<svc>.<ns>.svc.<domain>` (ClusterIPs, or ready endpoint
addresses for headless Services), `<a-b-c-d>.<ns>.pod.<domain>` and SRV for named
ports, from Services and Endpoints it lists from the API, as CoreDNS's kubernetes
plugin does. Other names get SERVFAIL unless STANDIN_DNS_FORWARD names an upstream
(CoreDNS would forward them to the node's resolv.conf).

Run: python3 -m k8s_standin.node.dns [--port 53] [--domain cluster.local]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import threading
import time

from dnslib import AAAA, QTYPE, RCODE, RR, SRV, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer

from .client import Client
from .feed import run_on_changes
from .podclient import from_env
from .util import Obj

log = logging.getLogger("k8s_standin.dns")
TTL = 5


class ClusterRecords:
    """Snapshot of Services and Endpoints, refreshed in the background."""

    def __init__(self, client: Client, domain: str) -> None:
        self.client = client
        self.domain = domain.strip(".")
        self.services: dict[tuple[str, str], Obj] = {}
        self.endpoints: dict[tuple[str, str], Obj] = {}
        self.synced = threading.Event()

    def refresh(self) -> None:
        self.services = {
            (s["metadata"]["namespace"], s["metadata"]["name"]): s
            for s in self.client.list("services")
        }
        self.endpoints = {
            (e["metadata"]["namespace"], e["metadata"]["name"]): e
            for e in self.client.list("endpoints")
        }
        self.synced.set()

    def run(self, resync: float) -> None:
        run_on_changes(self.client, ("services", "endpoints"), self.refresh, resync, "dns")

    def lookup(self, name: str) -> list[str] | None:
        """Addresses for a cluster name; None when the name is not ours."""
        labels = name.lower().strip(".").split(".")
        suffix = self.domain.split(".")
        if labels[-len(suffix) :] != suffix:
            return None
        rest = labels[: -len(suffix)]
        if len(rest) == 3 and rest[2] == "svc":
            return self._service(rest[1], rest[0])
        if len(rest) == 4 and rest[3] == "svc":  # <hostname>.<svc>.<ns>.svc for headless pods
            return [ip for ip in self._endpoint_ips(rest[2], rest[1], hostname=rest[0])]
        if len(rest) == 3 and rest[2] == "pod":
            text = (
                rest[0].replace("-", ".") if rest[0].count("-") == 3 else rest[0].replace("-", ":")
            )
            with contextlib.suppress(ValueError):
                return [str(ipaddress.ip_address(text))]
        return []

    def _service(self, ns: str, name: str) -> list[str]:
        svc = self.services.get((ns, name))
        if svc is None:
            return []
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return []
        ips = [
            ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"
        ]
        return ips or self._endpoint_ips(ns, name)

    def _endpoint_ips(self, ns: str, name: str, hostname: str | None = None) -> list[str]:
        ep = self.endpoints.get((ns, name)) or {}
        out = []
        for subset in ep.get("subsets") or []:
            for addr in subset.get("addresses") or []:
                # CoreDNS names an endpoint by its hostname, else by its dashed address.
                name = addr.get("hostname") or addr["ip"].replace(".", "-").replace(":", "-")
                if hostname and name != hostname:
                    continue
                out.append(addr["ip"])
        return out

    def srv(self, name: str) -> list[tuple[int, str]]:
        """_port._proto.<svc>.<ns>.svc.<domain> -> [(port, target)]."""
        labels = name.lower().strip(".").split(".")
        if len(labels) < 5 or not labels[0].startswith("_"):
            return []
        port_name, proto, svc, ns = labels[0][1:], labels[1][1:], labels[2], labels[3]
        service = self.services.get((ns, svc))
        if service is None:
            return []
        target = f"{svc}.{ns}.svc.{self.domain}."
        return [
            (p["port"], target)
            for p in service["spec"].get("ports") or []
            if p.get("name") == port_name and p.get("protocol", "TCP").lower() == proto
        ]


class Resolver(BaseResolver):
    def __init__(self, records: ClusterRecords, upstream: str | None) -> None:
        self.records = records
        self.upstream = upstream

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        if qtype == "SRV":
            for port, target in self.records.srv(qname):
                reply.add_answer(RR(qname, QTYPE.SRV, ttl=TTL, rdata=SRV(0, 100, port, target)))
            if not reply.rr:
                reply.header.rcode = RCODE.NXDOMAIN
            return reply
        ips = self.records.lookup(qname)
        if ips is None:
            if self.upstream:
                host, _, port = self.upstream.partition(":")
                try:
                    return DNSRecord.parse(request.send(host, int(port or 53), timeout=2))
                except OSError:
                    pass
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if not ips:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for ip in ips:
            v6 = ":" in ip
            if qtype in ("A", "ANY") and not v6:
                reply.add_answer(RR(qname, QTYPE.A, ttl=TTL, rdata=A(ip)))
            if qtype in ("AAAA", "ANY") and v6:
                reply.add_answer(RR(qname, QTYPE.AAAA, ttl=TTL, rdata=AAAA(ip)))
        return reply


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="k8s_standin.node.dns")
    parser.add_argument("--port", type=int, default=int(os.environ.get("STANDIN_DNS_PORT", 53)))
    parser.add_argument("--address", default=os.environ.get("STANDIN_LISTEN_ADDRESS", "::"))
    parser.add_argument("--domain", default="cluster.local")
    args = parser.parse_args(argv)
    records = ClusterRecords(from_env("coredns"), args.domain)
    threading.Thread(target=records.run, args=(10.0,), daemon=True).start()
    records.synced.wait(30)
    resolver = Resolver(records, os.environ.get("STANDIN_DNS_FORWARD"))
    servers = []
    for address in (args.address, "0.0.0.0") if args.address == "::" else (args.address,):
        for tcp in (False, True):
            try:
                server = DNSServer(resolver, port=args.port, address=address, tcp=tcp)
                server.start_thread()
                servers.append(server)
            except OSError as err:  # no IPv6 in this namespace: IPv4 alone still serves
                log.info("not listening on [%s]:%d: %s", address, args.port, err)
    if not servers:
        return 1
    log.info("serving cluster DNS for %s on port %d", args.domain, args.port)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
