"""The shell supervisor that runs the distribution as a child of the node container.

Both official images make the distribution's process the container's main process
(the binary itself is PID 1, or an init such as tini runs it), so stopping it
stops the container and every pod in it. The supervisor keeps the container alive
instead: it forwards SIGTERM/SIGINT to the child for a clean stop, and restarts the
child when asked (SIGHUP to the supervisor, or a ``restart`` file present when the
child exits). Replacing the binary and restarting then swaps the control plane in
place while pods keep running, which is how both projects document upgrades.

It is POSIX sh using builtins only (plus ``mount``): a distribution's image may have
little but busybox.
"""

from __future__ import annotations

#: Where the supervisor keeps its pid, its child's pid and the restart request;
#: /run is a tmpfs in every node container.
STATE_DIR = "/run/k8sdistro"
SUPERVISOR_PID = f"{STATE_DIR}/supervisor.pid"
CHILD_PID = f"{STATE_DIR}/child.pid"
RESTART_FILE = f"{STATE_DIR}/restart"
#: $0 of the supervisor, as ps shows it.
NAME = "k8sdistro-supervisor"

# Environment switches, set by node.py from what it found out about the host.
ENV_CGROUP_NESTING = "K8SDISTRO_CGROUP_NESTING"
ENV_REMOUNT_RW = "K8SDISTRO_REMOUNT_RW"
ENV_PREPARE = "K8SDISTRO_PREPARE"
#: A flag (the profile's ``node_ip_flag``) given the container's IPv4 and IPv6 addresses.
ENV_NODE_IP_FLAG = "K8SDISTRO_NODE_IP_FLAG"

SCRIPT = r"""
set -u
state=__STATE__
say() { echo "__NAME__: $*" >&2; }
mkdir -p "$state"
echo $$ >"$state/supervisor.pid"
rm -f "$state/restart"

# Without --privileged, /sys and the cgroup mounts come read-only; the kubelet needs
# them writable. The fallback's CAP_SYS_ADMIN allows the remount.
if [ "${K8SDISTRO_REMOUNT_RW:-0}" = 1 ]; then
    mounts=$(while read -r line; do echo "$line"; done </proc/mounts)
    while read -r _dev mnt _fs opts _rest; do
        case "$mnt" in /sys | /sys/fs/cgroup | /sys/fs/cgroup/*) ;; *) continue ;; esac
        case ",$opts," in
        *,ro,*)
            if mount -o remount,rw "$mnt" 2>/dev/null; then
                say "remounted $mnt read-write"
            else
                say "could not remount $mnt read-write"
            fi
            ;;
        esac
    done <<MOUNTS
$mounts
MOUNTS
fi

# cgroup v2 with a private cgroup namespace: controllers can only be delegated to
# child cgroups once no process is left in the root one ("no internal processes"),
# so move everything into a leaf first, as k3d's entrypoint does. A distribution
# that does this itself does so only as PID 1, which it no longer is here.
if [ "${K8SDISTRO_CGROUP_NESTING:-0}" = 1 ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    if mkdir -p /sys/fs/cgroup/init 2>/dev/null; then
        while read -r pid; do
            echo "$pid" >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
        done </sys/fs/cgroup/cgroup.procs
        read -r controllers </sys/fs/cgroup/cgroup.controllers || controllers=""
        enable=""
        for c in $controllers; do enable="$enable +$c"; done
        if echo "$enable" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
            say "cgroup v2: enabled controllers for nesting:$enable"
        else
            say "cgroup v2: could not enable controllers for nesting"
        fi
    else
        say "cgroup v2: /sys/fs/cgroup is read-only, not nesting"
    fi
fi

# The kubelet's Bidirectional mount propagation needs a shared root (kind and k3d do
# the same).
mount --make-rshared / 2>/dev/null || say "could not make / a shared mount"

if [ -n "${K8SDISTRO_PREPARE:-}" ]; then
    /bin/sh -c "$K8SDISTRO_PREPARE" || {
        status=$?
        say "preparing the container failed with status $status"
        exit "$status"
    }
fi
# A dual-stack node may need to be told both of its addresses, which the engine only
# assigns when the container starts. It writes them to /etc/hosts under the
# container's hostname, one line per family.
if [ -n "${K8SDISTRO_NODE_IP_FLAG:-}" ]; then
    v4="" v6=""
    me=${HOSTNAME:-}
    [ -n "$me" ] || read -r me </etc/hostname
    while read -r addr names; do
        for name in $names; do
            [ "$name" = "$me" ] || continue
            case "$addr" in
            *:*) [ -n "$v6" ] || v6=$addr ;;
            *) [ -n "$v4" ] || v4=$addr ;;
            esac
        done
    done </etc/hosts
    if [ -n "$v4" ] && [ -n "$v6" ]; then
        set -- "$@" "$K8SDISTRO_NODE_IP_FLAG=$v4,$v6"
        say "node addresses: $v4,$v6"
    else
        say "no IPv4 and IPv6 address for $me in /etc/hosts; is the network IPv6-enabled?"
    fi
fi
unset K8SDISTRO_PREPARE K8SDISTRO_CGROUP_NESTING K8SDISTRO_REMOUNT_RW K8SDISTRO_NODE_IP_FLAG

child=0
watchdog=0
stopping=0
restart=0
# SIGTERM to the child, and SIGKILL if it has not gone after the grace period: a
# control plane that hangs while stopping must not block a restart forever.
forward() {
    [ "$child" -gt 0 ] || return 0
    kill -TERM "$child" 2>/dev/null || return 0
    if [ "$watchdog" = 0 ]; then
        (sleep "${K8SDISTRO_STOP_GRACE_S:-60}" && kill -KILL "$child" 2>/dev/null) &
        watchdog=$!
    fi
}
trap 'stopping=1; forward' TERM INT
trap 'restart=1; forward' HUP
while :; do
    "$@" &
    child=$!
    echo "$child" >"$state/child.pid"
    say "started $1 (pid $child)"
    while :; do
        # wait returns early when a trapped signal arrives; the child may still run.
        wait "$child"
        status=$?
        kill -0 "$child" 2>/dev/null || break
    done
    child=0
    if [ "$watchdog" != 0 ]; then
        kill "$watchdog" 2>/dev/null
        wait "$watchdog" 2>/dev/null
        watchdog=0
    fi
    if [ "$stopping" = 1 ]; then
        say "stopped: $1 exited with status $status"
        exit "$status"
    fi
    if [ "$restart" = 1 ] || [ -e "$state/restart" ]; then
        restart=0
        rm -f "$state/restart"
        say "restarting $1 (it exited with status $status)"
        continue
    fi
    say "$1 exited with status $status; the node stops"
    exit "$status"
done
""".replace("__STATE__", STATE_DIR).replace("__NAME__", NAME)

#: Run inside the node by ``docker exec``: ask the supervisor for a restart. The file
#: makes the request survive a SIGHUP that arrives while the child is being started.
RESTART_COMMAND = (
    "/bin/sh",
    "-c",
    f': >{RESTART_FILE} && read -r pid <{SUPERVISOR_PID} && kill -HUP "$pid"',
)
#: Prints the child's pid.
CHILD_PID_COMMAND = ("/bin/sh", "-c", f'read -r pid <{CHILD_PID} && echo "$pid"')


def entrypoint(init: tuple[str, ...] = ()) -> list[str]:
    """The container's entrypoint; the image's own init (tini, say) stays PID 1."""
    return [*init, "/bin/sh", "-c", SCRIPT, NAME]


def command(binary: str, args: tuple[str, ...] | list[str]) -> list[str]:
    """The container's command: what the supervisor runs as its child."""
    return [binary, *args]
