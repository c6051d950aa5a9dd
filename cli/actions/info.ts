// `coro-bench info`: what the native library says about itself, over FFI.
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { InfoOptions } from '../commands/info.js';
import type { IO } from '../commands/io.js';
import * as native from '../native/coro.js';
import { paths, ROOT } from '../paths.js';
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
}

export function collectInfo(): Info {
  const lim = (v: number): number | null => (Number.isFinite(v) ? v : null);
  const prog = (p: string): { path: string; present: boolean } => ({ path: p, present: existsSync(p) });
  return {
    coro_version: native.coroVersion(),
    coro_arch: native.coroArch(),
    backends: native.coroBackends(),
    default_stack_bytes: native.coroDefaultStackBytes(),
    tls_library: native.coroTlsLibrary(),
    build_flags: native.coroBuildFlags(),
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
  };
}

export async function infoAction(o: InfoOptions, io: IO): Promise<number> {
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
    ...Object.entries(info.programs).map(([k, v]): [string, string] => [k, `${v.path}${v.present ? '' : '  (not built)'}`]),
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  io.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n');
  return 0;
}
