#!/usr/bin/env bash
# Installs what the namespace test hosts need (test/hosts.test.ts,
# scripts/netns-hosts.sh): sshd and ssh (Debian's openssh-server and
# openssh-client) and ip (iproute2), with apt-get, only the packages that are
# missing (dpkg -s). The package's sshd service is not started: a
# policy-rc.d denies service starts during the install (each test host runs
# an sshd of its own, with its own config). Without root or apt-get it only
# says so: the hosts test then skips with one line, the rest of the tests run.
# Run by .ci/run before the tests.
set -uo pipefail

want=(openssh-server openssh-client iproute2)
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
((${#missing[@]})) || exit 0

if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
  echo "install-host-tools: warning: ${missing[*]} missing and cannot be installed here (needs root and apt-get); the hosts test is skipped" >&2
  exit 0
fi

# Debian's way to keep a package's service from starting at install time.
policy=/usr/sbin/policy-rc.d
made_policy=
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
trap '[[ -n $made_policy ]] && rm -f "$policy"' EXIT

echo "install-host-tools: installing ${missing[*]}" >&2
# dpkg may be locked by another install running at the same time: retry.
for attempt in 1 2 3 4 5 6; do
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
    exit 0
  fi
  echo "install-host-tools: apt-get failed (attempt $attempt of 6; dpkg may be locked), retrying in 10 s" >&2
  sleep 10
done
echo "install-host-tools: warning: apt-get install ${missing[*]} failed; the hosts test is skipped" >&2
exit 0
