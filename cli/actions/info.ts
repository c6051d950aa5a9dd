// `coro-bench info`: what the native library says about itself, over FFI.
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { InfoOptions } from '../commands/info.js';
import type { IO } from '../commands/io.js';
import { NativeMissingError } from '../errors.js';
import * as native from '../native/coro.js';
import { paths, ROOT, useNativeBuild } from '../paths.js';
import { type ArchTesting, archTesting } from '../results/cross-arch.js';
import { hardFileLimit, softFileLimit } from '../workload/launch.js';

export interface Info {
  coro_version: string;
  coro_arch: string;
  backends: string[];
  default_stack_bytes: number;
  tls_library: string;
  build_flags: string;
  open_files_soft: number | null;
  open_files_hard: number | null;
  cpus: number;
  node: string;
  root: string;
  library: string;
  programs: Record<string, { path: string; present: boolean }>;
  tested_architectures: ArchTesting[];
}

/** A field the library cannot answer (an older build without the symbol) shows why instead of failing info. */
function field<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof NativeMissingError && native.nativeLibraryPresent()) return fallback;
    throw err;
  }
}

export function collectInfo(): Info {
  const lim = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const prog = (p: string): { path: string; present: boolean } => ({ path: p, present: existsSync(p) });
  const version = native.coroVersion(); // Fails with the build hint when the library is missing.
  const na = 'unavailable (symbol missing: rebuild the native library)';
  return {
    coro_version: version,
    coro_arch: field(native.coroArch, na),
    backends: field(native.coroBackends, []),
    default_stack_bytes: field(native.coroDefaultStackBytes, Number.NaN),
    tls_library: field(native.coroTlsLibrary, na),
    build_flags: field(native.coroBuildFlags, na),
    open_files_soft: lim(softFileLimit()),
    open_files_hard: lim(hardFileLimit()),
    cpus: os.availableParallelism(),
    node: process.version,
    root: ROOT,
    library: native.nativeLibraryPath(),
    programs: {
      echo_server: prog(paths.echoServer),
      echo_client: prog(paths.echoClient),
      smtp_server: prog(paths.smtpServer),
      smtp_client: prog(paths.smtpClient),
      epoll_echo: prog(paths.epollEcho),
      node_echo: prog(paths.nodeEcho),
    },
    tested_architectures: archTesting(),
  };
}

export async function infoAction(o: InfoOptions, io: IO): Promise<number> {
  if (o.build) useNativeBuild(o.build); // before the library is first loaded
  const info = collectInfo();
  if (o.json) {
    io.out(`${JSON.stringify(info, null, 2)}\n`);
    return 0;
  }
  const rows: [string, string][] = [
    ['version', info.coro_version],
    ['architecture', info.coro_arch],
    ['backends', `${info.backends.join(', ')} (default: ${info.backends[0] ?? 'none'})`],
    ['shared stack', `${info.default_stack_bytes} bytes (${(info.default_stack_bytes / 1024).toFixed(0)} KiB) by default`],
    ['TLS library', info.tls_library],
    ['build flags', info.build_flags],
    ['open files', `soft ${info.open_files_soft ?? 'unknown'}, hard ${info.open_files_hard ?? 'unknown'}`],
    ['CPUs', String(info.cpus)],
    ['node', info.node],
    ['library', info.library],
    ...Object.entries(info.programs).map(([k, v]): [string, string] => [k, `${v.path}${v.present ? '' : '  (missing)'}`]),
    ...info.tested_architectures.map((a): [string, string] => [`tested ${a.arch}`, `${a.where}; last here: ${a.last_here}`]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  io.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  return 0;
}
