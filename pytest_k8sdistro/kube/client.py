"""The ``kube`` fixture's object: typed API groups over one cluster's client."""

from __future__ import annotations

from functools import cached_property

from kubernetes import client


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @cached_property
    def storage(self) -> client.StorageV1Api:
        return client.StorageV1Api(self.api)

    @cached_property
    def networking(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.api)

    @cached_property
    def version(self) -> client.VersionApi:
        return client.VersionApi(self.api)
