"""Unit tests of the stand-in's pure parts: patches, selectors, faults, tokens, storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from k8s_standin import errors, ipam, join, kubeconfig, patch, podlogs, selectors
from k8s_standin.cidrs import node_ip_mismatch
from k8s_standin.config import NodeConfig
from k8s_standin.faults import Faults
from k8s_standin.registry import Registry
from k8s_standin.resources import get
from k8s_standin.store import Expired, Store


def test_merge_patch_deletes_with_null() -> None:
    assert patch.merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 5}}) == {
        "b": {"c": 5, "d": 3}
    }


def test_strategic_merge_lists() -> None:
    orig = {
        "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
        "finalizers": ["f1"],
        "args": ["1", "2"],
    }
    out = patch.strategic_merge(
        orig,
        {
            "containers": [
                {"name": "b", "image": "z"},
                {"name": "a", "$patch": "delete"},
                {"name": "c", "image": "w"},
            ],
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}],
            "finalizers": ["f2"],
            "args": ["3"],
        },
    )
    assert out["containers"] == [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]
    assert out["finalizers"] == ["f1", "f2"]  # merge strategy for finalizers
    assert out["args"] == ["3"]  # other lists are replaced
    assert "$setElementOrder/containers" not in out
    ports = patch.strategic_merge(
        {"ports": [{"port": 80, "name": "h"}]}, {"ports": [{"port": 443, "name": "s"}]}
    )
    assert [p["port"] for p in ports["ports"]] == [80, 443]


def test_json_patch_ops_and_failed_test() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    out = patch.json_patch(
        doc,
        [
            {"op": "add", "path": "/a/-", "value": 3},
            {"op": "remove", "path": "/b/c"},
            {"op": "copy", "from": "/a/0", "path": "/b/d"},
            {"op": "test", "path": "/a/2", "value": 3},
        ],
    )
    assert out == {"a": [1, 2, 3], "b": {"d": 1}} and doc["a"] == [1, 2]
    with pytest.raises(errors.ApiError) as err:
        patch.json_patch(doc, [{"op": "test", "path": "/a/0", "value": 9}])
    assert err.value.code == 422


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", True),
        ("app==web,tier!=db", True),
        ("app in (web, api)", True),
        ("app notin (web)", False),
        ("tier", False),
        ("!tier", True),
        ("app,!app", False),
    ],
)
def test_label_selectors(selector: str, expected: bool) -> None:
    obj = {"metadata": {"labels": {"app": "web"}}}
    assert selectors.label_selector(selector)(obj) is expected


def test_field_selectors() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "spec": {"nodeName": "x"},
        "status": {"phase": "Running"},
    }
    assert selectors.field_selector("spec.nodeName=x,status.phase!=Pending")(pod)
    assert not selectors.field_selector("metadata.namespace=other")(pod)
    assert selectors.field_selector("spec.missing=")(pod)


def test_faults_from_env() -> None:
    faults = Faults.from_env(
        {
            "STANDIN_NEVER_READY": "1",
            "STANDIN_API_DOWN_AFTER": "2.5",
            "STANDIN_API_DOWN_FOR": "3",
            "STANDIN_HOLD_MEMORY_MIB": "64",
            "STANDIN_PVC_PENDING": "0",
            "STANDIN_NO_IPV6": "true",
        }
    )
    assert faults.never_ready and faults.no_ipv6 and not faults.pvc_pending
    assert (faults.api_down_after, faults.api_down_for, faults.hold_memory_mib) == (2.5, 3, 64)
    assert Faults.from_env({}) == Faults()
    with pytest.raises(ValueError, match="STANDIN_API_DOWN_FOR"):
        Faults.from_env({"STANDIN_API_DOWN_FOR": "soon"})


def test_node_config_dual_stack() -> None:
    cfg = NodeConfig(
        flavor="k3s",
        version="v1",
        data_dir=Path("/d"),
        api_url="https://x",
        kubeconfig_path=Path("/k"),
        node_name="n",
        node_ip="10.0.0.2",
        node_ipv6="fd00::2",
        cluster_cidrs=("10.42.0.0/16", "fd42::/56"),
    )
    assert cfg.dual_stack and cfg.node_ips == ("10.0.0.2", "fd00::2")


def test_k0s_token_round_trip() -> None:
    config = kubeconfig.build("https://10.0.0.1:6443", b"CA", ("k0s", "u", "k0s"), token="a.b")
    token = join.encode_k0s_token(config)
    assert join.decode_k0s_token(token) == config
    assert kubeconfig.ca_of(config) == b"CA"


def test_service_ip_allocation_skips_used() -> None:
    ips = ipam.ServiceIPs(["10.43.0.0/16", "fd01::/108"])
    assert ips.families == ["IPv4", "IPv6"] and ips.first_ip("IPv6") == "fd01::1"
    assert ips.allocate("IPv4", {"10.43.0.11"}) == "10.43.0.12"
    assert ipam.allocate_node_port({30000, 30001}) == 30002


def _cri(path: Path, records: list[tuple[str, str, str]]) -> None:
    path.write_text("".join(f"{t} stdout {tag} {text}\n" for t, tag, text in records))


def test_pod_log_options_since_tail_timestamps(tmp_path: Path) -> None:
    """The kubelet's ReadLogs: tail first, then since; P records join the next line."""
    log = tmp_path / "0.log"
    _cri(
        log,
        [
            ("2026-01-01T00:00:01.000000000Z", "F", "one"),
            ("2026-01-01T00:00:02.500000000Z", "P", "tw"),
            ("2026-01-01T00:00:02.600000000Z", "F", "o"),
            ("2026-01-01T00:00:03.000000000Z", "F", "three"),
        ],
    )
    opts = podlogs.LogOptions.parse
    assert podlogs.read(log, opts({})) == b"one\ntwo\nthree\n"
    assert podlogs.read(log, opts({"tailLines": "1"})) == b"three\n"
    assert podlogs.read(log, opts({"tailLines": "0"})) == b""
    stamped = podlogs.read(log, opts({"timestamps": "true", "sinceTime": "2026-01-01T00:00:02Z"}))
    assert stamped == (
        b"2026-01-01T00:00:02.500000000Z two\n2026-01-01T00:00:03.000000000Z three\n"
    )
    now = podlogs.rfc3339_ns("2026-01-01T00:00:04Z")
    assert podlogs.read(log, opts({"sinceSeconds": "2"}, now_ns=now)) == b"two\nthree\n"
    assert podlogs.read(log, opts({"limitBytes": "5"})) == b"one\nt"
    with pytest.raises(errors.ApiError) as both:
        opts({"sinceSeconds": "1", "sinceTime": "2026-01-01T00:00:00Z"}, "p")
    assert both.value.code == 422 and "at most one of" in both.value.message
    for bad in ({"sinceSeconds": "0"}, {"tailLines": "-1"}, {"limitBytes": "0"}):
        with pytest.raises(errors.ApiError) as invalid:
            opts(bad, "p")
        assert invalid.value.code == 422
    with pytest.raises(errors.ApiError) as unparsable:
        opts({"tailLines": "x"})
    assert unparsable.value.code == 400


def test_store_persists_and_expires_old_watches(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = Store(db)
    registry = Registry(store, ipam.ServiceIPs(["10.43.0.0/16"]))
    ns = get("", "v1", "namespaces")
    created = registry.create(ns, "", {"metadata": {"name": "a"}})
    registry.patch(
        ns, "", "a", "application/merge-patch+json", {"metadata": {"labels": {"x": "y"}}}
    )
    store.close()
    again = Store(db)
    reread = Registry(again, ipam.ServiceIPs(["10.43.0.0/16"])).get(ns, "", "a")
    # The apiserver keeps kubernetes.io/metadata.name on every namespace (since 1.22).
    assert reread["metadata"]["labels"] == {"x": "y", "kubernetes.io/metadata.name": "a"}
    assert reread["metadata"]["uid"] == created["metadata"]["uid"]
    assert again.rv == 2 and again.oldest_rv == 2
    with pytest.raises(Expired):
        again.events(1, 0)
    assert list(again.events(2, 0)) == []


def test_network_policy_and_namespace_defaults(tmp_path: Path) -> None:
    registry = Registry(Store(tmp_path / "state.db"), ipam.ServiceIPs(["10.43.0.0/16"]))
    ns = registry.create(get("", "v1", "namespaces"), "", {"metadata": {"name": "a"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "a"}
    netpol = get("networking.k8s.io", "v1", "networkpolicies")
    only_in = registry.create(
        netpol, "a", {"metadata": {"name": "i"}, "spec": {"ingress": [{"ports": [{"port": 80}]}]}}
    )
    assert only_in["spec"]["policyTypes"] == ["Ingress"]
    assert only_in["spec"]["ingress"][0]["ports"][0]["protocol"] == "TCP"
    both = registry.create(netpol, "a", {"metadata": {"name": "e"}, "spec": {"egress": [{}]}})
    assert both["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_k3s_refuses_node_ips_missing_a_family_of_the_cluster_cidrs() -> None:
    dual = ["10.42.0.0/16", "2001:cafe:42::/56"]
    assert node_ip_mismatch(dual, ["172.18.0.2", "fd00::2"]) == ""
    assert node_ip_mismatch(["10.42.0.0/16"], ["172.18.0.2"]) == ""
    # What k3s says without a dual-stack --node-ip (k3s-io/k3s#11735).
    assert "must share the same IP version" in node_ip_mismatch(dual, ["172.18.0.2"])
