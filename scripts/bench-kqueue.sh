#!/usr/bin/env bash
# bench-kqueue.sh - what the libkqueue layer costs: echo_server of the
# kqueue build (native/build-kqueue, `npm run test:kqueue` makes it) on its
# kqueue backend against the same program on epoll, side by side in one run,
# interleaved, with medians. The client is always native/build/echo_client
# on epoll, pinned to its own CPU (server CPU 0, client CPU 1 when there are
# two), so only the server's backend differs.
#
#   scripts/bench-kqueue.sh [ROUNDS] [CONNS TXNS SIZE]...
#   (default: 5 rounds of 100 100 100, the README workload)
#
# Prints, per workload and backend, the median txn/s (transactions over the
# client's wall time) and server CPU per transaction (user + sys of the
# server's `server bench:` line over the transactions), then the ratios
# kqueue/epoll. A run that fails is reported and left out of the medians.
set -uo pipefail
cd "$(dirname "$0")/.."

KQ_BUILD=native/build-kqueue
CLIENT=native/build/echo_client
for p in "$KQ_BUILD/echo_server" "$CLIENT"; do
    [[ -x $p ]] || { echo "error: $p missing (npm run test:kqueue builds $KQ_BUILD; npm ci builds native/build)" >&2; exit 2; }
done
rounds=${1:-5}
shift || true
workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(100 100 100)
(( ${#workloads[@]} % 3 == 0 )) || { echo "error: workloads come as CONNS TXNS SIZE triples" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true
pin_s=() pin_c=()
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then pin_s=(taskset -c 0); pin_c=(taskset -c 1); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run BACKEND CONNS TXNS SIZE -> "txn_per_s server_cpu_us_per_txn" on stdout
run() {
    local b=$1 conns=$2 txns=$3 size=$4 port="" sp rc
    "${pin_s[@]}" "$KQ_BUILD/echo_server" -b "$b" -P 0 >"$tmp/srv" 2>&1 &
    sp=$!
    for _ in $(seq 100); do
        port=$(grep -o 'on port [0-9]*' "$tmp/srv" | head -1 | cut -d' ' -f3)
        [[ -n $port ]] && break
        sleep 0.05
    done
    if [[ -z $port ]]; then kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null; return 1; fi
    timeout 300 "${pin_c[@]}" "$CLIENT" -b epoll 127.0.0.1 "$port" "$conns" "$txns" "$size" >"$tmp/cli" 2>&1
    rc=$?
    kill "$sp" 2>/dev/null
    wait "$sp" 2>/dev/null
    [[ $rc == 0 ]] || return 1
    awk -v n=$((conns * txns)) '
        /^server bench:/ { line = $0; sub(/^server bench: /, "", line); split(line, f, "|");
                           split(f[2], u, " "); split(f[3], s, " ");
                           cpu_us = (u[1] * 1e6 + u[2]) + (s[1] * 1e6 + s[2]) }
        /^client bench:/ { line = $0; sub(/^client bench: /, "", line); split(line, f, "|");
                           split(f[1], w, " "); wall_s = w[1] + w[2] / 1e6 }
        END { if (wall_s > 0 && cpu_us > 0) printf "%.0f %.2f\n", n / wall_s, cpu_us / n; else exit 1 }' "$tmp/cli"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-16s %-7s %5s %12s %18s\n' workload backend runs "txn/s" "server_cpu_us/txn"
for ((w = 0; w < ${#workloads[@]}; w += 3)); do
    c=${workloads[w]} t=${workloads[w + 1]} s=${workloads[w + 2]}
    : >"$tmp/epoll" && : >"$tmp/kqueue"
    for ((r = 1; r <= rounds; r++)); do
        # Alternate which goes first, so neither always runs on a warmer machine.
        order=(epoll kqueue)
        ((r % 2 == 0)) && order=(kqueue epoll)
        for b in "${order[@]}"; do
            if out=$(run "$b" "$c" "$t" "$s"); then
                echo "$out" >>"$tmp/$b"
                echo "bench-kqueue: ${c}x${t}x${s} round $r $b: $out" >&2
            else
                echo "bench-kqueue: ${c}x${t}x${s} round $r $b: FAILED ($(tail -1 "$tmp/cli" 2>/dev/null))" >&2
            fi
        done
    done
    for b in epoll kqueue; do
        tps=$(cut -d' ' -f1 "$tmp/$b" | median)
        cpu=$(cut -d' ' -f2 "$tmp/$b" | median)
        printf '%-16s %-7s %5s %12s %18s\n' "${c}x${t}x${s}" "$b" "$(wc -l <"$tmp/$b")" "$tps" "$cpu"
        eval "tps_$b=\$tps cpu_$b=\$cpu"
    done
    # shellcheck disable=SC2154
    awk -v a="$tps_kqueue" -v b="$tps_epoll" -v c="$cpu_kqueue" -v d="$cpu_epoll" -v wl="${c}x${t}x${s}" 'BEGIN {
        if (a == "-" || b == "-" || c == "-" || d == "-") { printf "%-16s kqueue/epoll: - (a backend had no successful run)\n", wl; exit }
        printf "%-16s kqueue/epoll: txn/s x%.2f, server CPU per txn x%.2f\n", wl, a / b, c / d }'
done
