// Where the project's files live, resolved from this module's own location
// (never from the current directory), so `npx coro-bench` works from anywhere
// and the same code runs from cli/ (tests, via ts-node) and dist/cli/ (built).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string };
        if (parsed.name === 'coro-bench') return dir;
      } catch {
        // An unreadable package.json is not ours; keep walking up.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the coro-bench package root above ${start}`);
    dir = parent;
  }
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const NATIVE_BUILD = process.env.CORO_BENCH_NATIVE_BUILD
  ? resolve(process.env.CORO_BENCH_NATIVE_BUILD)
  : join(ROOT, 'native', 'build');
export const PROFILES_DIR = join(ROOT, 'bench-profiles');

/** Every file of a native build folder (native/build, or another given with --build). */
export function buildPaths(build: string) {
  return {
    build,
    library: join(build, 'libcoro.so'),
    echoServer: join(build, 'echo_server'),
    echoClient: join(build, 'echo_client'),
    smtpServer: join(build, 'smtp_server'),
    smtpClient: join(build, 'smtp_client'),
    epollEcho: join(build, 'peers', 'epoll_echo'),
    nodeEcho: join(ROOT, 'native', 'peers', 'node_echo.mjs'),
    /** Built on demand by `compare` when a Go toolchain is installed. */
    goEcho: join(build, 'peers', 'go_echo'),
    goEchoSource: join(ROOT, 'native', 'peers', 'go_echo', 'main.go'),
    nativeTests: join(build, 'tests'),
    switchCount: join(build, 'bench', 'switch_count'),
  };
}

export const paths = buildPaths(NATIVE_BUILD);

/**
 * Points the native paths at another build folder: the build under test
 * (e.g. an injected-slowdown build for `check --build`). Must run before the
 * library is first loaded over FFI: the binding opens it once.
 *
 * With keepClient, echo_client (the load generator, itself a coro program)
 * stays the default build's when that exists, so that a slower build under
 * test does not also slow down the client driving it.
 */
export function useNativeBuild(dir: string, opts: { keepClient?: boolean } = {}): void {
  const client = paths.echoClient;
  Object.assign(paths, buildPaths(resolve(dir)));
  if (opts.keepClient && existsSync(client)) paths.echoClient = client;
}

export const BUILD_HINT = 'run `npm install` (or `make -C native`)';

/** A short, stable name for a build folder in configuration names: its last component ("build-s2n"). */
export function buildLabel(dir: string): string {
  return basename(resolve(dir));
}
