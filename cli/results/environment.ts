// Where and with what a measurement was made, saved with every result.
import { readFileSync } from 'node:fs';
import os from 'node:os';
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
  };
}
