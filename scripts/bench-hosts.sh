#!/usr/bin/env bash
# The cost of the remote path (--client-hosts) against local client
# processes, same server, side by side, on three network-namespace hosts
# (scripts/netns-hosts.sh): one echo_server in the third, on CPU 0, bound to
# its address and loaded as a --target by every configuration (so every
# client's traffic crosses the same veth pairs and bridge); per workload,
# interleaved rounds of
#   local-1:  one echo_client started by `coro-bench echo` in host 1
#   local-2:  two of them (--clients 2) in host 1
#   remote-2: `coro-bench echo --client-hosts` in host 3: one echo_client on
#             each of hosts 1 and 2, over ssh (barrier, clock exchanges)
#   loopback-1: for scale, one local client against a server of its own in
#             host 3 over loopback (no veth, no bridge)
# Every client runs on CPU 1 (the namespace sshds run there, so the clients
# they start do too). Prints client CPU per transaction (user + system of
# the echo_client processes), txn/s and the ratio of medians to local-1. On
# one machine this measures the harness's overhead, not a network.
#
#   bash scripts/bench-hosts.sh [ROUNDS] [RUNS_SMALL] [WORKLOADS...]
#   defaults: 3 rounds; 10 runs per round of the README workload 100x100x100,
#   1 of each other workload (1000x1000x100), without warmup
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
runs_small=${2:-10}
shift 2 2>/dev/null || true
workloads=("$@")
((${#workloads[@]})) || workloads=(100x100x100 1000x1000x100)

why=$(bash scripts/netns-hosts.sh check) || { echo "bench-hosts: $why" >&2; exit 2; }
name=cbb$$
dir=$(mktemp -d)
out=$(mktemp -d)
trap 'bash scripts/netns-hosts.sh down "$name" "$dir"; rm -rf "$out"' EXIT
SSHD_CPUS=1 bash scripts/netns-hosts.sh up "$name" 3 "$dir"
source "$dir/env"
ssh_args=()
for o in "${SSH_OPTS[@]}"; do ssh_args+=(--ssh-option "$o"); done
srv=${HOSTS[2]}
# The one server every configuration loads (a --target is never stopped).
ip netns exec "$name-3" taskset -c 0 native/build/echo_server -a "$srv" -P 0 >"$out/server.out" 2>&1 &
disown # ended with the namespace (netns-hosts.sh down)
for _ in $(seq 1 50); do grep -q 'starting on port' "$out/server.out" && break; sleep 0.1; done
port=$(grep -o 'starting on port [0-9]*' "$out/server.out" | awk '{print $4}')
[[ -n $port ]] || { echo "bench-hosts: echo_server did not start: $(cat "$out/server.out")" >&2; exit 1; }
target=(--target "server=$srv:$port")
cli() { local ns=$1; shift; ip netns exec "$name-$ns" node dist/cli/main.js echo --json --timeout 900 "$@"; }

for w in "${workloads[@]}"; do
  IFS=x read -r c t s <<<"$w"
  # The small workload: many runs and a warmup each; a big one: one run.
  if [[ $w == 100x100x100 ]]; then runs=(--runs "$runs_small" --warmup 1); else runs=(--runs 1 --warmup 0); fi
  wl=(--conns "$c" --txns "$t" --size "$s" "${runs[@]}")
  for r in $(seq 1 "$rounds"); do
    echo "bench-hosts: $w round $r of $rounds" >&2
    cli 1 "${wl[@]}" "${target[@]}" --client-cpus 1 >"$out/$w.local-1.$r.json"
    cli 1 "${wl[@]}" "${target[@]}" --clients 2 --client-cpus 1,1 >"$out/$w.local-2.$r.json"
    cli 3 "${wl[@]}" "${target[@]}" --client-hosts "${HOSTS[0]},${HOSTS[1]}" "${ssh_args[@]}" >"$out/$w.remote-2.$r.json"
    cli 3 "${wl[@]}" --pin 0,1 >"$out/$w.loopback-1.$r.json"
  done
done

node - "$out" "${workloads[@]}" <<'JS'
const fs = require('fs');
const [dir, ...workloads] = process.argv.slice(2);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log('| workload | clients | runs | client CPU us/txn (median) | txn/s (median) | overlap % (median) | CPU/txn vs local-1 |');
console.log('|---|---|---|---|---|---|---|');
for (const w of workloads) {
  const by = {};
  for (const f of fs.readdirSync(dir).filter((f) => f.startsWith(`${w}.`))) {
    const kind = f.split('.')[1];
    const doc = JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8'));
    if (doc.failures.some((x) => !x.warmup)) throw new Error(`${f}: a run failed: ${doc.failures[0].error}`);
    for (const s of doc.results[0].samples) {
      (by[kind] ??= []).push({ cpu: (s.client_rusage.utime_us + s.client_rusage.stime_us) / s.transactions, tps: s.txn_per_s, overlap: s.client_hosts?.overlap_percent });
    }
  }
  const base = median(by['local-1'].map((x) => x.cpu));
  for (const kind of ['local-1', 'local-2', 'remote-2', 'loopback-1']) {
    const xs = by[kind] ?? [];
    const cpu = median(xs.map((x) => x.cpu));
    const ov = xs.some((x) => x.overlap !== undefined) ? median(xs.map((x) => x.overlap)).toFixed(1) : '-';
    console.log(`| ${w} | ${kind} | ${xs.length} | ${cpu.toFixed(3)} | ${Math.round(median(xs.map((x) => x.tps)))} | ${ov} | ${((cpu / base - 1) * 100).toFixed(1)} % |`);
  }
}
JS
