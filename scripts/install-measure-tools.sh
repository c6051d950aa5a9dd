#!/usr/bin/env bash
# Installs the tools the noise-free metrics count with, valgrind (callgrind)
# and strace, with apt-get when they are missing and that is possible (root,
# or sudo without a password). Without them those metrics are skipped, and
# the tests that need them say so; so a failed install only warns.
# Run by .ci/run before the tests and by scripts/ci-gate.sh.
set -uo pipefail

missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v strace >/dev/null || missing+=(strace)
# python3: the --server-cmd tests run an asyncio echo server the project did not write.
command -v python3 >/dev/null || missing+=(python3)
((${#missing[@]})) || exit 0

sudo=()
[[ $(id -u) == 0 ]] || sudo=(sudo -n)
if command -v apt-get >/dev/null && { [[ $(id -u) == 0 ]] || sudo -n true 2>/dev/null; }; then
  echo "install-measure-tools: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2 ||
    echo "install-measure-tools: warning: apt-get install ${missing[*]} failed; those metrics are skipped" >&2
else
  echo "install-measure-tools: warning: ${missing[*]} missing and cannot be installed here; those metrics are skipped" >&2
fi
exit 0
