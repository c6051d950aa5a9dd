// The Go echo peer (native/peers/go_echo/main.go), built on demand into the
// native build folder when a Go toolchain is on PATH, and rebuilt when its
// source is newer than the program.
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NativeMissingError } from '../errors.js';
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
