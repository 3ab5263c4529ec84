"""kube-proxy placeholder (replaced below)."""

from __future__ import annotations

from ..config import NodeConfig
from .client import Client
from .podnet import PodNetwork


class Proxy:
    def __init__(self, client: Client, config: NodeConfig, network: PodNetwork) -> None:
        self.client, self.config, self.network = client, config, network

    def step(self) -> None:
        self.network.sync_routes(self.client.list("nodes"))
