// The ffi-rs binding of native/include/coro.h: the one file that knows the
// library's symbol names and struct layouts. Everything else calls the typed
// functions exported here.
//
// ffi-rs notes that shaped this file:
//  - Returned `const char *` are static strings in libcoro; ffi-rs copies them
//    and must never free them (freeResultMemory stays false: freeing a String
//    result aborts the process).
//  - int64_t fields come back as JS numbers (exact below 2^53, which every
//    count and nanosecond total here stays under).
//  - Output structs: createPointer allocates the struct, unwrapPointer gives
//    the `T *` to pass as External, restorePointer reads it back.
//  - A missing symbol only fails on its first call, so each wrapper turns that
//    failure into a NativeMissingError naming the symbol.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NativeMissingError } from '../errors.js';
import { BUILD_HINT, buildPaths, paths } from '../paths.js';

type Ffi = typeof import('ffi-rs');
const require = createRequire(import.meta.url);

const LIB = 'libcoro';
let ffi: Ffi | undefined;
let runtimeReady = false;

function lib(): Ffi {
  if (ffi) return ffi;
  if (!existsSync(paths.library)) {
    throw new NativeMissingError(`native library not built: ${BUILD_HINT} (looked for ${paths.library})`);
  }
  const mod = require('ffi-rs') as Ffi;
  try {
    mod.open({ library: LIB, path: paths.library });
  } catch (err) {
    throw new NativeMissingError(
      `cannot load ${paths.library}: ${err instanceof Error ? err.message : String(err)}; ${BUILD_HINT}`,
    );
  }
  ffi = mod;
  return mod;
}

/** True when the shared library file exists (it may still fail to load). */
export function nativeLibraryPresent(): boolean {
  return existsSync(paths.library);
}

export function nativeLibraryPath(): string {
  return paths.library;
}

function call<T>(funcName: string, run: (f: Ffi) => T): T {
  const f = lib();
  try {
    return run(f);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/symbol|undefined|cannot find/i.test(msg)) {
      throw new NativeMissingError(`${paths.library} has no usable ${funcName} (${msg}); rebuild: ${BUILD_HINT}`);
    }
    throw err;
  }
}

function str(funcName: string): string {
  return call(funcName, (f) =>
    f.load({ library: LIB, funcName, retType: f.DataType.String, paramsType: [], paramsValue: [] }),
  ) as string;
}

function i64(funcName: string): number {
  return call(funcName, (f) =>
    f.load({ library: LIB, funcName, retType: f.DataType.I64, paramsType: [], paramsValue: [] }),
  ) as number;
}

export const coroVersion = (): string => str('coro_version');
export const coroArch = (): string => str('coro_arch');
export const coroTlsLibrary = (): string => str('coro_tls_library');
export const coroBuildFlags = (): string => str('coro_build_flags');

/**
 * coro_tls_library() of another build folder's libcoro.so (a --build folder),
 * opened beside the default library under its own key; what that build says
 * it is, e.g. "s2n-tls 8cbf81ad7 over OpenSSL 3.0.19 ...". A missing or
 * unloadable library is reported as missing ("-" plus why), never guessed.
 */
export function tlsLibraryOf(dir: string): string {
  const library = buildPaths(dir).library;
  if (library === paths.library) return coroTlsLibrary();
  if (!existsSync(library)) return `- (no ${library})`;
  const mod = require('ffi-rs') as Ffi;
  const key = `libcoro@${library}`;
  try {
    mod.open({ library: key, path: library });
    return mod.load({ library: key, funcName: 'coro_tls_library', retType: mod.DataType.String, paramsType: [], paramsValue: [] }) as string;
  } catch (err) {
    return `- (cannot ask ${library}: ${err instanceof Error ? err.message : String(err)})`;
  }
}
export const coroDefaultStackBytes = (): number => i64('coro_default_stack_bytes');
/** Backend names of this build, fastest first. */
export const coroBackends = (): string[] =>
  str('coro_backends')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** Reads errno through libc after a failed call (ffi-rs's errno option). */
function callWithErrno(funcName: string, paramsType: unknown[], paramsValue: unknown[]): { value: number; errno: string } {
  return call(funcName, (f) => {
    const r = f.load({
      library: LIB,
      funcName,
      retType: f.DataType.I32,
      paramsType: paramsType as never,
      paramsValue,
      errno: true,
    }) as unknown as { value: number; errnoCode: number; errnoMessage: string };
    return { value: r.value, errno: `${r.errnoMessage} (errno ${r.errnoCode})` };
  });
}

/** Creates the process's one coroutine runtime (idempotent within this process). */
export function ensureRuntime(): void {
  if (runtimeReady) return;
  const f = lib();
  const r = callWithErrno('coro_runtime_init', [f.DataType.I64, f.DataType.String], [0, '']);
  if (r.value !== 0) throw new Error(`coro_runtime_init failed: ${r.errno}`);
  runtimeReady = true;
}

/** Calls `int fn(struct *)` with a struct of the given layout; returns the struct after the call. */
function structCall<T extends Record<string, number>>(funcName: string, layout: Record<keyof T, number>, input: T): T {
  const f = lib();
  const ptr = f.createPointer({ paramsType: [layout as never], paramsValue: [input] });
  try {
    const r = callWithErrno(funcName, [f.DataType.External], [f.unwrapPointer(ptr)[0]]);
    if (r.value !== 0) throw new Error(`${funcName} failed: ${r.errno}`);
    const [out] = f.restorePointer({ retType: [layout as never], paramsValue: ptr }) as unknown as T[];
    return out;
  } finally {
    f.freePointer({ paramsType: [layout as never], paramsValue: ptr, pointerType: f.PointerType.RsPointer });
  }
}

export interface SwitchBench {
  coroutines: number;
  depth_bytes: number;
  iterations: number;
  elapsed_ns: number;
  ns_per_switch: number;
  bytes_copied_per_switch: number;
  slice_bytes: number;
}

export interface MemcpyBench {
  bytes: number;
  iterations: number;
  elapsed_ns: number;
  ns_per_copy: number;
}

export interface RegswitchBench {
  iterations: number;
  elapsed_ns: number;
  ns_per_switch: number;
}

export interface CoroStats {
  switches: number;
  bytes_saved: number;
  bytes_restored: number;
  max_slice_bytes: number;
  live_coroutines: number;
  save_buffer_bytes: number;
  read_blocks: number;
  write_blocks: number;
  coroutines_spawned: number;
  coroutines_failed: number;
}

// Field order must match coro.h exactly: ffi-rs lays structs out in key order.
function switchLayout(f: Ffi): Record<keyof SwitchBench, number> {
  const { I64, Double } = f.DataType;
  return {
    coroutines: I64,
    depth_bytes: I64,
    iterations: I64,
    elapsed_ns: I64,
    ns_per_switch: Double,
    bytes_copied_per_switch: Double,
    slice_bytes: Double,
  };
}

/** One coro_bench_switch call (needs the runtime; ensureRuntime is called here). */
export function benchSwitch(coroutines: number, depthBytes: number, iterations: number): SwitchBench {
  ensureRuntime();
  const f = lib();
  return structCall<SwitchBench & Record<string, number>>('coro_bench_switch', switchLayout(f), {
    coroutines,
    depth_bytes: depthBytes,
    iterations,
    elapsed_ns: 0,
    ns_per_switch: 0,
    bytes_copied_per_switch: 0,
    slice_bytes: 0,
  });
}

export function benchMemcpy(bytes: number, iterations: number): MemcpyBench {
  const f = lib();
  const { I64, Double } = f.DataType;
  return structCall<MemcpyBench & Record<string, number>>(
    'coro_bench_memcpy',
    { bytes: I64, iterations: I64, elapsed_ns: I64, ns_per_copy: Double },
    { bytes, iterations, elapsed_ns: 0, ns_per_copy: 0 },
  );
}

export function benchRegswitch(iterations: number): RegswitchBench {
  const f = lib();
  const { I64, Double } = f.DataType;
  return structCall<RegswitchBench & Record<string, number>>(
    'coro_bench_regswitch',
    { iterations: I64, elapsed_ns: I64, ns_per_switch: Double },
    { iterations, elapsed_ns: 0, ns_per_switch: 0 },
  );
}

/** Counters of the runtime created by ensureRuntime (ENOENT without one). */
export function getStats(): CoroStats {
  const f = lib();
  const I64 = f.DataType.I64;
  const layout = {
    switches: I64,
    bytes_saved: I64,
    bytes_restored: I64,
    max_slice_bytes: I64,
    live_coroutines: I64,
    save_buffer_bytes: I64,
    read_blocks: I64,
    write_blocks: I64,
    coroutines_spawned: I64,
    coroutines_failed: I64,
  };
  const zero = Object.fromEntries(Object.keys(layout).map((k) => [k, 0])) as unknown as CoroStats & Record<string, number>;
  return structCall<CoroStats & Record<string, number>>('coro_get_stats', layout, zero);
}
