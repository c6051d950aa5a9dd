// Helpers for end-to-end tests: run the built CLI, find processes it left.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths, ROOT } from '../cli/paths.js';

export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  marker: string;
}

/**
 * Runs `node dist/cli/main.js args` with a unique marker in its environment
 * (inherited by everything it spawns, so leftovers can be found precisely).
 */
export function runCli(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    onSpawn?: (pid: number, marker: string) => void;
    /** A command the CLI runs under, e.g. ["ip", "netns", "exec", NAME]. */
    prefix?: string[];
  } = {},
): Promise<CliRun> {
  const marker = `coro-bench-test-${randomUUID()}`;
  const argv = [...(opts.prefix ?? []), process.execPath, CLI, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, NO_COLOR: '1', CORO_BENCH_TEST_MARKER: marker, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`coro-bench ${args.join(' ')} did not finish within ${opts.timeoutMs ?? 120_000} ms\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid, marker);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, marker });
    });
  });
}

/** Pids of live processes whose environment carries the marker. */
export function processesWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'latin1');
      if (env.includes(`CORO_BENCH_TEST_MARKER=${marker}`)) {
        const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
        // A zombie has released everything; it only waits for its parent.
        if (!/^\d+ \(.*\) Z /.test(stat)) out.push(Number(d));
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return out;
}

/** Why the end-to-end echo tests cannot run now, or undefined when they can. */
export function echoMissing(): string | undefined {
  const need = [paths.library, paths.echoServer, paths.echoClient];
  const missing = need.filter((p) => !existsSync(p));
  return missing.length ? `native programs not built yet: ${missing.join(', ')}` : undefined;
}

export function libraryMissing(): string | undefined {
  return existsSync(paths.library) ? undefined : `native library not built yet: ${paths.library}`;
}

export function cliMissing(): string | undefined {
  return existsSync(CLI) ? undefined : `${CLI} not built (run \`npm run build:ts\`)`;
}
