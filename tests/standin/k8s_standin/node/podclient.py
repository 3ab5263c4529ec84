"""API access for the stand-in's add-on processes that run as pods.

The kubelet gives kube-system pods STANDIN_KUBECONFIG (the node's credentials) and
STANDIN_API_SERVER (an address reachable from the pod's network namespace), the
stand-in's equivalent of a mounted service-account token.
"""

from __future__ import annotations

import logging
import os
import sys

from .client import Client, Credentials


def from_env(name: str) -> Client:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format=f"%(asctime)s {name} %(levelname)s %(message)s",
    )
    creds = Credentials.from_kubeconfig(os.environ["STANDIN_KUBECONFIG"])
    if os.environ.get("STANDIN_API_SERVER"):
        creds.server = os.environ["STANDIN_API_SERVER"]
    return Client(creds, user_agent=f"{name} k8s-standin")
