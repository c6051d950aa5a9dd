// Expands --server/--backend into the list of server configurations, checked
// against the backends the native library reports (over FFI).
import { UsageError } from '../errors.js';
import { coroBackends } from '../native/coro.js';
import { checkTarget, parseServerCmd, parseTarget } from '../workload/custom.js';
import { configName, PEER_BACKEND, type ServerConfig, type ServerKind } from '../workload/servers.js';

/** The library's backends, fastest first (throws NativeMissingError without the library). */
export function availableBackends(): string[] {
  const list = coroBackends();
  if (list.length === 0) throw new UsageError('the native library reports no event backend');
  return list;
}

/**
 * `backends` as given: [] means the library's default (fastest), "all" every
 * backend; anything else must be one the library has.
 */
export function resolveBackends(backends: string[]): string[] {
  const have = availableBackends();
  if (backends.length === 0) return [have[0]];
  if (backends.includes('all')) return have;
  for (const b of backends) {
    if (!have.includes(b)) throw new UsageError(`unknown backend "${b}" (valid: ${have.join(', ')}, all)`);
  }
  return [...new Set(backends)];
}

/**
 * The configurations to run. `builds` (--build folders, absolute) multiply
 * the coro server: one configuration per build and backend, the backends
 * checked against the default build's library; [] means the default build.
 */
export function resolveConfigs(servers: ServerKind[], backends: string[], tls: boolean, builds: string[] = []): ServerConfig[] {
  const out: ServerConfig[] = [];
  for (const s of servers) {
    if (s === 'coro') {
      for (const build of builds.length ? builds : [undefined]) {
        for (const b of resolveBackends(backends)) out.push({ server: 'coro', backend: b, tls, ...(build ? { build } : {}) });
      }
    } else {
      out.push({ server: s, backend: PEER_BACKEND[s], tls: false });
    }
  }
  return out;
}

/** `--ready REGEX`, compiled (one error line when it is not a regular expression). */
export function readyPattern(raw: string | undefined): RegExp | undefined {
  if (raw === undefined) return undefined;
  try {
    return new RegExp(raw);
  } catch (err) {
    throw new UsageError(`--ready is not a regular expression: ${(err as Error).message}`);
  }
}

/** The configurations of --server-cmd and --target, in the order given (commands first). */
export function customConfigs(serverCmds: string[], targets: string[], ready: RegExp | undefined): ServerConfig[] {
  if (ready && serverCmds.length === 0) throw new UsageError('--ready applies to --server-cmd servers: give one');
  return [
    ...serverCmds.map((raw): ServerConfig => ({ server: 'cmd', backend: 'custom', tls: false, custom: { ...parseServerCmd(raw), ready } })),
    ...targets.map((raw): ServerConfig => ({ server: 'target', backend: 'custom', tls: false, custom: parseTarget(raw) })),
  ];
}

/** Rejects two configurations with one name (a custom NAME equal to a built-in's, or given twice). */
export function requireUniqueNames(configs: ServerConfig[]): void {
  const seen = new Set<string>();
  for (const c of configs) {
    const name = configName(c);
    if (seen.has(name)) throw new UsageError(`two configurations are named "${name}": give each --server-cmd/--target its own NAME=`);
    seen.add(name);
  }
}

/** Checks every --target echoes before anything runs (one error line otherwise). */
export async function checkTargets(configs: ServerConfig[]): Promise<void> {
  for (const c of configs) if (c.server === 'target' && c.custom) await checkTarget(c.custom);
}

/**
 * The pinning text of a run, corrected for --target servers: they run
 * elsewhere, so "server on CPU 0" is not true of them. `others`: servers
 * not in `configs` run too (a profile's own).
 */
export function pinningWithTargets(text: string, configs: ServerConfig[], others = false): string {
  const targets = configs.filter((c) => c.server === 'target').length;
  if (targets === 0) return text;
  if (targets === configs.length && !others) return text.replace(/^server on CPUs? \d+(?:[-,]\d+)*/, 'server: a --target (not pinned by coro-bench)');
  return `${text}; --target servers are not pinned by coro-bench`;
}
