"""``--distro-provisioner=ssh://user@host[:port]``: install the distribution on a machine over SSH.

Commands run through the OpenSSH client with key authentication only
(``BatchMode=yes``: no password prompt can hang a run), as root through
``sudo -n`` when the login user is not root. The ``node`` fixture reaches the same
machine through testinfra's ``ssh://`` backend, which drives the same client, so
both use the user's own ssh configuration, agent and known hosts unless the URL
names others.

Why the OpenSSH client and not testinfra's backend for the install itself:
testinfra's ``run`` takes neither a timeout nor input, and an install needs both
(a hung download must fail the run; artifacts are streamed over stdin). No new
dependency either: paramiko is only needed by testinfra's ``paramiko://`` backend.

URL query parameters (testinfra's names where testinfra has one):

- ``ssh_identity_file=PATH``: the private key (``ssh -i``);
- ``ssh_config=PATH``: an ssh_config file used instead of ``~/.ssh/config``;
- ``api=HOST:PORT``: where the pytest host reaches the API when that is not the
  machine's address and the distribution's port (NAT, port forwarding).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from pytest_k8sdistro.distros.spec import DistroSpec
from pytest_k8sdistro.errors import ConfigError, ProvisionError
from pytest_k8sdistro.model.cluster import SUITE_NODE_PORTS, Cluster
from pytest_k8sdistro.provisioners.machine import forward, lease
from pytest_k8sdistro.provisioners.machine.base import MachineProvisioner, Result, Target

QUERY_KEYS = ("ssh_identity_file", "ssh_config", "api")
CONNECT_TIMEOUT_S = 15
UPLOAD_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class SshAddress:
    """A parsed ``ssh://`` provisioner URL."""

    host: str
    user: str | None = None
    port: int | None = None
    identity_file: str | None = None
    ssh_config: str | None = None
    api_host: str | None = None
    api_port: int | None = None

    @property
    def display(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{user}{host}:{self.port or 22}"


def parse_url(url: str) -> SshAddress:
    """Parse ``ssh://[user@]host[:port][?key=value...]``; ``ValueError`` says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "ssh":
        raise ValueError("it does not start with ssh://")
    if not parts.hostname:
        raise ValueError("it names no host; write ssh://user@host[:port]")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("its port is not a number from 1 to 65535") from None
    if parts.path not in ("", "/"):
        raise ValueError(f"it has a path ({parts.path!r}); write ssh://user@host[:port]")
    if parts.password is not None:
        raise ValueError("it carries a password; only key authentication is supported")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(QUERY_KEYS))
    if unknown:
        raise ValueError(
            f"unknown query parameter(s) {', '.join(unknown)}; accepted: {', '.join(QUERY_KEYS)}"
        )

    def one(key: str) -> str | None:
        values = query.get(key)
        if not values:
            return None
        if len(values) > 1 or not values[0]:
            raise ValueError(f"give {key} once, with a value")
        return values[0]

    api_host = api_port = None
    api = one("api")
    if api is not None:
        api_parts = urlsplit(f"//{api}")
        try:
            api_port = api_parts.port
        except ValueError:
            api_port = None
        if not api_parts.hostname or api_port is None:
            raise ValueError(f"api={api!r} is not HOST:PORT")
        api_host = api_parts.hostname
    identity = one("ssh_identity_file")
    config = one("ssh_config")
    return SshAddress(
        host=parts.hostname,
        user=parts.username or None,
        port=port,
        identity_file=os.path.expanduser(identity) if identity else None,
        ssh_config=os.path.expanduser(config) if config else None,
        api_host=api_host,
        api_port=api_port,
    )


def ssh_options(address: SshAddress) -> list[str]:
    """The OpenSSH client and its options for ``address``, before the destination."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}"]
    if address.ssh_config:
        argv += ["-F", address.ssh_config]
    if address.identity_file:
        argv += ["-i", address.identity_file]
    if address.port:
        argv += ["-p", str(address.port)]
    if address.user:
        argv += ["-l", address.user]
    return argv


def ssh_command(address: SshAddress, remote: str) -> list[str]:
    """The OpenSSH client command line that runs ``remote`` (a shell string) there."""
    return [*ssh_options(address), "--", address.host, remote]


def node_spec(address: SshAddress, *, sudo: bool) -> str:
    """The testinfra ``ssh://`` host spec for the same machine and credentials."""
    netloc = address.display if address.port else address.display.rsplit(":", 1)[0]
    query: dict[str, str] = {}
    if address.ssh_config:
        query["ssh_config"] = address.ssh_config
    if address.identity_file:
        query["ssh_identity_file"] = address.identity_file
    if sudo:
        query["sudo"] = "true"
    suffix = f"?{urlencode(query, quote_via=quote, safe='/')}" if query else ""
    return f"ssh://{netloc}{suffix}"


#: Tries of a command whose connection failed before the login, and the pause between.
CONNECT_ATTEMPTS = 3
CONNECT_PAUSE_S = 2.0
#: What OpenSSH says when a connection ends before authentication.
_BEFORE_LOGIN = (
    "kex_exchange_identification",  # the server closed or reset it before the handshake
    "Connection refused",
    "Connection timed out during banner exchange",
)


def _before_login(message: str) -> bool:
    return any(sign in message for sign in _BEFORE_LOGIN)


class SshTarget(Target):
    def __init__(self, address: SshAddress) -> None:
        self.address = address
        self.description = address.display

    def execute(self, argv: Sequence[str], *, timeout: float, stdin: bytes | None = None) -> Result:
        return self._ssh(shlex.join(list(argv)), timeout=timeout, stdin=stdin)

    def _ssh(self, remote: str, *, timeout: float, stdin: bytes | BinaryIO | None = None) -> Result:
        """``remote`` over ssh, tried again when the connection failed before the login
        (the command never ran, so running it again is safe): a machine under load, or
        a VM's forwarded port, can drop or refuse one connection among many."""
        for attempt in range(CONNECT_ATTEMPTS):
            try:
                return self._ssh_once(remote, timeout=timeout, stdin=stdin)
            except ProvisionError as exc:
                if attempt == CONNECT_ATTEMPTS - 1 or not _before_login(str(exc)):
                    raise
            if not isinstance(stdin, bytes) and stdin is not None:
                stdin.seek(0)
            time.sleep(CONNECT_PAUSE_S)
        raise AssertionError("unreachable")

    def _ssh_once(
        self, remote: str, *, timeout: float, stdin: bytes | BinaryIO | None = None
    ) -> Result:
        command = ssh_command(self.address, remote)
        try:
            done = subprocess.run(
                command,
                input=stdin if isinstance(stdin, bytes) else None,
                # Never the terminal: ssh would read from it.
                stdin=None if isinstance(stdin, bytes) else (stdin or subprocess.DEVNULL),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError:
            raise ProvisionError(
                "the ssh provisioner needs the OpenSSH client ('ssh'); install it "
                "(Debian: apt-get install openssh-client)"
            ) from None
        except subprocess.TimeoutExpired:
            return Result(124, "", f"timed out after {timeout:.0f}s: {remote}")
        result = Result(
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
        if result.rc == 255:
            # ssh's own failure (not the remote command's): say how to fix the usual ones.
            raise ProvisionError(
                f"ssh to {self.description} failed: {result.tail(5)}\n"
                "Check that the machine is up, that key authentication works without a "
                "prompt ('ssh -o BatchMode=yes ...'), and that its host key is in "
                "known_hosts (or pass ?ssh_config=FILE with your own settings)."
            )
        return result

    def spawn(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        # The remote command's stdin is this ssh's: it closes when the run dies.
        return lease.local_process(ssh_command(self.address, shlex.join(list(argv))))

    def upload(self, source: Path, dest: str) -> None:
        with source.open("rb") as handle:
            result = self._ssh(f"cat > {shlex.quote(dest)}", timeout=UPLOAD_TIMEOUT_S, stdin=handle)
        if result.rc != 0:
            raise ProvisionError(
                f"copying {source} to {self.description}:{dest} failed: {result.tail(3)}"
            )

    def api_host(self) -> str:
        return self.address.api_host or self.address.host

    def api_port(self, distro_port: int) -> int:
        return self.address.api_port or distro_port

    def node_spec(self) -> str:
        return node_spec(self.address, sudo=not self.is_root)


class ReachesOverSsh(MachineProvisioner):
    """:meth:`reach` through an ``ssh -L`` forward from the machine, made on first use.

    For provisioners whose targets are :class:`SshTarget`: kube-proxy routes a load
    balancer's address on the node itself, so the machine reaches it although this
    host may not.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (cluster key, address, port) -> a forward made by reach().
        self._reached: dict[tuple[str, str, int], forward.Forwards] = {}

    def reach(self, cluster: Cluster, address: str, port: int) -> tuple[str, int]:
        wanted = (cluster.key, address, port)
        made = self._reached.get(wanted)
        if made is None:
            target = self._probed(cluster.key)
            assert isinstance(target, SshTarget)
            try:
                made = forward.Forwards(
                    ssh_options(target.address), target.address.host, address, (port,)
                )
            except ProvisionError as exc:
                raise LookupError(str(exc)) from None
            self._reached[wanted] = made
            self.progress.say(
                f"{cluster.key}: {address}:{port} forwarded over ssh to 127.0.0.1:"
                f"{made.ports[port]}"
            )
        return "127.0.0.1", made.ports[port]

    def _stop_reached(self, key: str) -> None:
        for wanted in [w for w in self._reached if w[0] == key]:
            self._reached.pop(wanted).stop()


class SshProvisioner(ReachesOverSsh):
    NAME = "ssh"
    CAPABILITIES = replace(
        MachineProvisioner.CAPABILITIES, takes_address=True, second_cluster=False
    )
    #: Node ports the suites reach from this host: ingress and the load-balancer ports.
    FORWARDED = SUITE_NODE_PORTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._forwards: dict[str, forward.Forwards] = {}

    def create(self, spec: DistroSpec, key: str) -> Cluster:
        cluster = super().create(spec, key)
        try:
            cluster.ports.update(self._forward(key))
        except BaseException:
            self.destroy(cluster)
            raise
        return cluster

    def attach(self, cluster: Cluster) -> bool:
        if not super().attach(cluster):
            return False
        cluster.ports.update(self._forward(cluster.key))
        return True

    def destroy(self, cluster: Cluster) -> None:
        self._unforward(cluster.key)
        super().destroy(cluster)

    def keep(self, cluster: Cluster) -> None:
        # The forwards end with this run; a later run that attaches makes its own.
        self._unforward(cluster.key)
        super().keep(cluster)

    def _forward(self, key: str) -> dict[str, int]:
        """Forward :data:`FORWARDED` of the machine's address to 127.0.0.1."""
        target = self._probed(key)
        assert isinstance(target, SshTarget)
        found = target.execute(["sh", "-c", forward.ADDRESS_SCRIPT], timeout=30).stdout.split()
        address = found[0] if found else "127.0.0.1"
        self._unforward(key)
        made = forward.Forwards(
            ssh_options(target.address), target.address.host, address, self.FORWARDED
        )
        self._forwards[key] = made
        shown = ", ".join(f"{node} -> 127.0.0.1:{local}" for node, local in made.ports.items())
        self.progress.say(f"{key}: node ports of {address} forwarded over ssh: {shown}")
        return {f"{node}/tcp": local for node, local in made.ports.items()}

    def _unforward(self, key: str) -> None:
        made = self._forwards.pop(key, None)
        if made is not None:
            made.stop()
        self._stop_reached(key)

    @classmethod
    def parse_address(cls, address: str) -> None:
        try:
            parse_url(address)
        except ValueError as exc:
            raise ConfigError(f"--distro-provisioner={address!r}: {exc}") from None

    def target(self, key: str, *, creating: bool) -> Target:
        url = self.settings.provisioner_target
        if not url:
            raise ProvisionError(
                "the ssh provisioner needs --distro-provisioner=ssh://user@host[:port]"
            )
        try:
            return SshTarget(parse_url(url))
        except ValueError as exc:
            raise ProvisionError(f"--distro-provisioner={url!r}: {exc}") from None
