// Where and with what a measurement was made, saved with every result.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { ROOT } from '../paths.js';
import * as native from '../native/coro.js';
import { softFileLimit } from '../workload/launch.js';
import type { Environment } from './types.js';

function cpuModel(): string {
  const cpus = os.cpus();
  if (cpus.length > 0 && cpus[0].model) return cpus[0].model.trim();
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    // Not Linux; fall through.
  }
  return 'unknown';
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

let source: { commit: string | null; commit_date: string | null } | undefined;

/**
 * The commit of the sources measured, so that saved results can be put in
 * order (report --trend). "+dirty" marks uncommitted changes: such a result
 * measured something no commit holds. Null outside a git checkout (a
 * tarball, an npm install) or without git.
 */
export function sourceCommit(): { commit: string | null; commit_date: string | null } {
  if (source) return source;
  try {
    const git = (args: string[]): string => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    const [hash, date] = git(['log', '-1', '--format=%H %cI']).split(' ');
    const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    source = { commit: `${hash}${dirty ? '+dirty' : ''}`, commit_date: date ?? null };
  } catch {
    source = { commit: null, commit_date: null };
  }
  return source;
}

export function environment(pinning: string, date = new Date()): Environment {
  const haveLib = native.nativeLibraryPresent();
  const limit = softFileLimit();
  return {
    date: date.toISOString(),
    host: os.hostname(),
    os: `${os.type()} ${os.release()}`,
    kernel: os.version(),
    arch: process.arch,
    cpu_model: cpuModel(),
    cpus: os.availableParallelism(),
    node: process.version,
    coro_version: haveLib ? safe(native.coroVersion) : null,
    coro_arch: haveLib ? safe(native.coroArch) : null,
    build_flags: haveLib ? safe(native.coroBuildFlags) : null,
    tls_library: haveLib ? safe(native.coroTlsLibrary) : null,
    pinning,
    open_files_limit: Number.isFinite(limit) ? limit : null,
    ...sourceCommit(),
  };
}
