#!/usr/bin/env bash
# Installs the tools the noise-free metrics count with, valgrind (callgrind)
# and strace, and Go for the Go echo peer, with apt-get when they are missing
# and that is possible (root, or sudo without a password). Without them those
# metrics cannot be measured (coro-bench check exits 2 on a baseline that has
# them), and
# the tests that need them say so; so a failed install only warns.
# Run by .ci/run before the tests and by scripts/ci-gate.sh.
set -uo pipefail

missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v strace >/dev/null || missing+=(strace)
# Debian's Go toolchain: `compare` builds and measures the Go echo peer
# (native/peers/go_echo) with it; without it that peer is skipped.
command -v go >/dev/null || missing+=(golang-go)
# python3: the --server-cmd tests run an asyncio echo server the project did not write.
command -v python3 >/dev/null || missing+=(python3)
((${#missing[@]})) || exit 0

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo -n)
if command -v apt-get >/dev/null && { [[ $(id -u) == 0 ]] || sudo -n true 2>/dev/null; }; then
  echo "install-measure-tools: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2 ||
    echo "install-measure-tools: warning: apt-get install ${missing[*]} failed; the metrics they count cannot be measured" >&2
else
  echo "install-measure-tools: warning: ${missing[*]} missing and cannot be installed here; the metrics they count cannot be measured" >&2
fi
exit 0
