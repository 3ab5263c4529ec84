"""Kubeconfig parsing, rewriting and private writing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pytest_k8sdistro.kube import kubeconfig

K3S_STYLE = """
apiVersion: v1
kind: Config
clusters:
- name: default
  cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
contexts:
- name: default
  context: {cluster: default, user: default}
current-context: default
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""


def test_rewrite_server_keeps_ca_and_changes_only_the_address() -> None:
    data = kubeconfig.parse(K3S_STYLE, origin="test")
    rewritten = kubeconfig.rewrite_server(data, "127.0.0.1", 40123)
    assert kubeconfig.server(rewritten) == "https://127.0.0.1:40123"
    assert rewritten["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0E="
    assert kubeconfig.server(data) == "https://127.0.0.1:6443", "the input is left alone"


def test_write_private_is_owner_only(tmp_path: Path) -> None:
    data = kubeconfig.parse(K3S_STYLE, origin="test")
    path = kubeconfig.write_private(data, tmp_path / "sub" / "kc.yaml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kubeconfig.load(path) == data


def test_write_private_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "kc.yaml"
    path.write_text("old")
    path.chmod(0o644)
    kubeconfig.write_private(kubeconfig.parse(K3S_STYLE, origin="test"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "is not a kubeconfig"),
        ("kind: Config\ncurrent-context: x\n", "no usable current-context"),
        (
            "kind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n",
            "names cluster 'k', which is missing or has no server address",
        ),
    ],
)
def test_unusable_kubeconfigs_say_why(text: str, message: str) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match=message):
        kubeconfig.parse(text, origin="kubeconfig 'x'")
