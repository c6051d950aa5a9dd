#!/usr/bin/env bash
# npm run soak [-- --duration SECONDS --conns N --backend NAME ...]
#
# The soak (`coro-bench soak`, docs/cli.md): about 10,000 connections held
# by this one process for a bounded time (default 5 minutes). A Node process
# cannot raise its own open-files limit, so it is raised here first: to
# 65536, or, where the hard limit forbids that, to the hard limit. The CLI
# then checks that the limit covers --conns and says so clearly if not.
set -euo pipefail
cd "$(dirname "$0")/.."

want=65536
cur=$(ulimit -n)
if [ "$cur" = unlimited ] || [ "$cur" -ge "$want" ]; then
  : # already enough
elif ! ulimit -n "$want" 2>/dev/null; then
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || ! ulimit -n "$hard" 2>/dev/null; then
    echo "soak: cannot raise the open-files limit (soft $(ulimit -n), hard $hard)" >&2
    exit 2
  fi
  echo "soak: open-files limit $hard (the hard limit; $want was refused: raise it with ulimit -Hn as root or in /etc/security/limits.conf)" >&2
fi

if [ ! -f dist/cli/main.js ] || [ ! -x native/build/echo_server ]; then
  echo "soak: not built: run \`npm install\` (or \`npm run build\`) first" >&2
  exit 2
fi
exec node dist/cli/main.js soak "$@"
