// The Go echo peer (native/peers/go_echo/main.go), built on demand into the
// native build folder when a Go toolchain is on PATH, and rebuilt when its
// source is newer than the program.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, NativeMissingError } from '../errors.js';
import { findOnPath } from './tools.js';
import { paths } from '../paths.js';

const run = promisify(execFile);

/** Builds go_echo if needed; resolves to its path, or rejects with the reason it cannot be built. */
export async function ensureGoEcho(go: string): Promise<string> {
  const out = paths.goEcho;
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(paths.goEchoSource).mtimeMs) return out;
  try {
    await run(go, ['build', '-o', out, paths.goEchoSource], {
      // No toolchain or module downloads: the installed toolchain builds a file with no dependencies.
      env: { ...process.env, GOTOOLCHAIN: 'local', GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'coro-bench-go-cache') },
      timeout: 300_000,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new NativeMissingError(`go build of ${paths.goEchoSource} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' / ')}`);
  }
  return out;
}

/** Why the Go peer cannot run here (no toolchain, or its build failed), or undefined once it is built. */
export async function goUnavailable(): Promise<string | undefined> {
  const go = findOnPath('go');
  if (!go) return 'no Go toolchain (`go` is not on PATH)';
  try {
    await ensureGoEcho(go);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}
