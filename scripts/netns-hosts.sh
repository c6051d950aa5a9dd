#!/usr/bin/env bash
# Test hosts on one machine: Linux network namespaces joined by veth pairs
# to a bridge, each with an sshd (Debian's openssh-server) of its own, for
# `coro-bench echo --client-hosts` (test/hosts.test.ts, scripts/bench-hosts.sh).
#
#   netns-hosts.sh check            why these hosts cannot be made here (one
#                                   line, exit 1), or nothing (exit 0)
#   netns-hosts.sh up NAME N DIR    N namespaces NAME-1..NAME-N with addresses
#                                   10.77.0.1..N/24 that exist only inside them,
#                                   bridge NAME (no address), a host key and a
#                                   client key made in DIR (a fresh temporary
#                                   folder), sshd listening on each address;
#                                   writes DIR/env (HOSTS, SSH_OPTS, ...)
#   netns-hosts.sh down NAME DIR    kills every process in the namespaces,
#                                   deletes them, the bridge and DIR
#
# NAME must be short (a bridge name is at most 15 bytes, "-N" is added to
# the veths). Nothing here touches /etc/ssh or the system's sshd: each sshd
# runs with DIR/sshd_config. Needs root, ip (iproute2) and sshd.
set -euo pipefail

SUBNET=10.77.0

cmd=${1:-}
case "$cmd" in
check)
  [[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)"; exit 1; }
  command -v ip >/dev/null || { echo "needs ip (iproute2)"; exit 1; }
  [[ -x /usr/sbin/sshd ]] || { echo "needs sshd (openssh-server: bash scripts/install-host-tools.sh)"; exit 1; }
  command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || { echo "needs ssh and ssh-keygen (openssh-client)"; exit 1; }
  probe="cbprobe$$"
  if ! ip netns add "$probe" 2>/dev/null; then echo "cannot create network namespaces here (ip netns add failed)"; exit 1; fi
  ip netns del "$probe"
  exit 0
  ;;
up)
  name=$2 n=$3 dir=$4
  [[ -d "$dir" ]] || { echo "netns-hosts: $dir is not a folder" >&2; exit 2; }
  ((${#name} <= 11)) || { echo "netns-hosts: name $name is longer than 11 bytes" >&2; exit 2; }
  # sshd's privilege separation needs this folder (the package makes it at
  # boot through systemd, which a container may not run).
  # It is left in place: it is the package's own folder.
  [[ -d /run/sshd ]] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }
  ssh-keygen -q -t ed25519 -N '' -C "coro-bench test host" -f "$dir/host_key"
  ssh-keygen -q -t ed25519 -N '' -C "coro-bench test client" -f "$dir/client_key"
  # A key no host accepts (the "key refused" test).
  ssh-keygen -q -t ed25519 -N '' -C "coro-bench test stranger" -f "$dir/stranger_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  : >"$dir/known_hosts"
  ip link add "$name" type bridge
  ip link set "$name" up
  hosts=()
  for i in $(seq 1 "$n"); do
    ns="$name-$i" addr="$SUBNET.$i"
    ip netns add "$ns"
    ip link add "$name-$i" type veth peer name "${name}p$i"
    ip link set "$name-$i" master "$name" up
    ip link set "${name}p$i" netns "$ns"
    ip -n "$ns" link set "${name}p$i" name eth0
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    cat >"$dir/sshd_config.$i" <<EOF
ListenAddress $addr
Port 22
HostKey $dir/host_key
PidFile $dir/sshd.$i.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
MaxStartups 100:30:200
MaxSessions 100
LogLevel ERROR
EOF
    # SSHD_CPUS (optional, a taskset list): the sshd and so every client it
    # starts run on those CPUs (scripts/bench-hosts.sh pins like a local client).
    ip netns exec "$ns" ${SSHD_CPUS:+taskset -c "$SSHD_CPUS"} /usr/sbin/sshd -f "$dir/sshd_config.$i" -E "$dir/sshd.$i.log"
    echo "$addr $(cat "$dir/host_key.pub")" >>"$dir/known_hosts"
    hosts+=("$addr")
  done
  # sshd daemonizes once listening: wait for every pid file.
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1 50); do [[ -s "$dir/sshd.$i.pid" ]] && break; sleep 0.1; done
    [[ -s "$dir/sshd.$i.pid" ]] || { echo "netns-hosts: sshd in $name-$i did not start: $(cat "$dir/sshd.$i.log" 2>/dev/null)" >&2; exit 1; }
  done
  {
    echo "HOSTS=(${hosts[*]})"
    echo "SSH_OPTS=(IdentityFile=$dir/client_key IdentitiesOnly=yes UserKnownHostsFile=$dir/known_hosts StrictHostKeyChecking=yes User=$(id -un))"
    echo "STRANGER_KEY=$dir/stranger_key"
  } >"$dir/env"
  ;;
down)
  name=$2 dir=${3:-}
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$name-[0-9]+$" || true); do
    # Every process the namespace holds (sshd, its sessions, clients, servers).
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^$name(-[0-9]+)?$" || true); do
    ip link del "$l" 2>/dev/null || true
  done
  if [[ -n "$dir" && -d "$dir" ]]; then
    rm -rf "$dir"
  fi
  ;;
*)
  echo "usage: netns-hosts.sh check | up NAME N DIR | down NAME [DIR]" >&2
  exit 2
  ;;
esac
