"""Kubernetes API clients bound to one kubeconfig file, never to the global default."""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config


def api_client(kubeconfig_path: str | Path) -> client.ApiClient:
    """A client for the current context of ``kubeconfig_path``.

    ``new_client_from_config`` leaves the library's global configuration alone,
    so two clusters in one run never share credentials.
    """
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig_path)
    )
    return api


def raw_get(api: client.ApiClient, path: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET a non-resource path such as ``/readyz``; returns the status and the body.

    Non-2xx answers are returned, not raised: during boot they are expected.
    """
    method, url, headers, body, post = api.param_serialize(
        "GET", path, auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, headers, body, post, _request_timeout=timeout)
    payload: bytes = response.read() or b""  # type: ignore[no-untyped-call]
    return int(response.status), payload.decode(errors="replace")
