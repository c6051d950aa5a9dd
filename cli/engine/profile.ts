// Runs a profile's workloads with optional overrides. A workload whose
// programs are missing (e.g. smtp_client not built) is reported as skipped
// with the reason; the others still run.
import { existsSync } from 'node:fs';
import { errorMessage, NativeMissingError } from '../errors.js';
import type { Progress } from '../measure/progress.js';
import { ensureRuntime } from '../native/coro.js';
import { paths } from '../paths.js';
import type { ProfileWorkload, Profile } from '../profiles/profile.js';
import type { Pinning } from '../workload/launch.js';
import { configName, requireProgram, type ServerConfig } from '../workload/servers.js';
import { requireUniqueNames, resolveBackends, resolveConfigs } from './configs.js';
import { runEchoSuite } from './echo.js';
import { runIdleSuite } from './idle.js';
import { fileLimitFor, requireEchoPrograms } from './preflight.js';
import { runSmtpSuite } from './smtp.js';
import { defaultWarmupS, runSoakSuite, soakFileLimit } from './soak.js';
import { mergeOutputs, type PartialSink, type SuiteOutput } from './suite.js';
import { runSwitchSuite } from './switch.js';

export interface ProfileOverrides {
  conns?: number;
  txns?: number;
  size?: number;
  runs?: number;
  warmup?: number;
  idleSeconds?: number;
}

export function applyOverrides(w: ProfileWorkload, o: ProfileOverrides): ProfileWorkload {
  const out = { ...w } as ProfileWorkload;
  if (o.runs !== undefined) out.runs = o.runs;
  if (o.warmup !== undefined) out.warmup = o.warmup;
  if (out.kind === 'echo' || out.kind === 'idle' || out.kind === 'smtp' || out.kind === 'soak') {
    if (o.conns !== undefined) out.conns = o.conns;
  }
  if (out.kind === 'echo') {
    if (o.txns !== undefined) out.txns = o.txns;
    if (o.size !== undefined) out.size = o.size;
  }
  if (out.kind === 'smtp') {
    if (o.txns !== undefined) out.messages = o.txns;
    if (o.size !== undefined) out.size = o.size;
  }
  if (out.kind === 'idle' && o.idleSeconds !== undefined) out.idle_s = o.idleSeconds;
  return out;
}

function skipped(name: string, reason: string): SuiteOutput {
  return { results: [{ type: 'skipped', name, reason }], failures: [], warnings: [`${name} skipped: ${reason}`] };
}

/** Splits configurations into those whose server program exists and skipped results for the others. */
function available(configs: ServerConfig[], label: string): { run: ServerConfig[]; skip: SuiteOutput[] } {
  requireProgram(paths.echoClient, 'echo_client');
  const run: ServerConfig[] = [];
  const skip: SuiteOutput[] = [];
  for (const c of configs) {
    try {
      requireEchoPrograms([c]);
      run.push(c);
    } catch (err) {
      if (!(err instanceof NativeMissingError)) throw err;
      skip.push(skipped(`${label}: ${configName(c)}`, err.message));
    }
  }
  return { run, skip };
}

export interface ProfileRunContext {
  /** --build folders (absolute) whose coro server runs the echo and idle workloads; [] or undefined: the default build. */
  builds?: string[];
  /** --server-cmd / --target servers, added to every echo workload. */
  custom?: ServerConfig[];
  port: number;
  pinning: Pinning;
  progress: Progress;
  partial?: PartialSink;
}

async function runWorkload(w: ProfileWorkload, ctx: ProfileRunContext, done: SuiteOutput[]): Promise<SuiteOutput> {
  const label = w.label ?? w.kind;
  const partial: PartialSink = (p) => ctx.partial?.(mergeOutputs([...done, p]));
  try {
    switch (w.kind) {
      case 'echo': {
        const { run: builtIn, skip } = available(resolveConfigs(w.servers, w.backends, w.tls, ctx.builds), label);
        // Custom servers speak clear text: a TLS workload leaves them out.
        const configs = [...builtIn, ...(w.tls ? [] : (ctx.custom ?? []))];
        requireUniqueNames(configs);
        if (configs.length === 0) return mergeOutputs(skip);
        ctx.progress.note(`${label}: echo ${w.conns}x${w.txns}x${w.size} on ${configs.map(configName).join(', ')}`);
        const out = await runEchoSuite(
          {
            configs,
            workload: { conns: w.conns, txns: w.txns, size: w.size },
            runs: w.runs,
            warmup: w.warmup,
            port: ctx.port,
            pinning: ctx.pinning,
            timeoutMs: w.timeout_s * 1000,
            fileLimit: fileLimitFor(w.conns),
          },
          ctx.progress,
          partial,
        );
        return mergeOutputs([out, ...skip]);
      }
      case 'idle': {
        const { run: configs, skip } = available(resolveConfigs(w.servers, w.backends, w.tls, ctx.builds), label);
        if (configs.length === 0) return mergeOutputs(skip);
        let fileLimit: number;
        try {
          fileLimit = fileLimitFor(w.conns) ?? w.conns + 64;
        } catch (err) {
          return skipped(`${label} (${w.conns} idle connections)`, errorMessage(err));
        }
        ctx.progress.note(`${label}: ${w.conns} idle connections for ${w.idle_s} s on ${configs.map(configName).join(', ')}`);
        const out = await runIdleSuite(
          { configs, conns: w.conns, idleSeconds: w.idle_s, runs: w.runs, warmup: w.warmup, port: ctx.port, pinning: ctx.pinning, timeoutMs: w.timeout_s * 1000, fileLimit },
          ctx.progress,
          partial,
        );
        return mergeOutputs([out, ...skip]);
      }
      case 'smtp': {
        const missing = [paths.smtpServer, paths.smtpClient].filter((p) => !existsSync(p));
        if (missing.length) return skipped(label, `not built: ${missing.join(', ')}`);
        const backends = resolveBackends(w.backends);
        ctx.progress.note(`${label}: smtp ${w.conns}x${w.messages}x${w.size} on ${backends.join(', ')}`);
        return await runSmtpSuite(
          {
            backends,
            workload: { conns: w.conns, txns: w.messages, size: w.size },
            runs: w.runs,
            warmup: w.warmup,
            port: ctx.port,
            pinning: ctx.pinning,
            timeoutMs: w.timeout_s * 1000,
          },
          ctx.progress,
          partial,
        );
      }
      case 'soak': {
        const backends = resolveBackends(w.backends);
        requireEchoPrograms(backends.map((backend) => ({ server: 'coro' as const, backend, tls: false })));
        let fileLimit: number | undefined;
        try {
          fileLimit = soakFileLimit(w.conns);
        } catch (err) {
          return skipped(`${label} (${w.conns} connections)`, errorMessage(err));
        }
        return await runSoakSuite(
          {
            backends,
            conns: w.conns,
            durationS: w.duration_s,
            warmupS: w.warmup_s ?? defaultWarmupS(w.duration_s),
            rssSlackKib: w.rss_slack_kib,
            port: ctx.port,
            fileLimit,
          },
          ctx.progress,
        );
      }
      case 'switch': {
        ensureRuntime();
        ctx.progress.note(`${label}: switch at depths ${w.depths.join(', ')} bytes`);
        return await runSwitchSuite(
          { coroutines: w.coroutines, depths: w.depths, iterations: w.iterations, runs: w.runs, warmup: w.warmup },
          ctx.progress,
          partial,
        );
      }
    }
  } catch (err) {
    // A missing program makes that workload skipped, not the whole profile
    // fail; bad input (an unknown backend) is still an error.
    if (err instanceof NativeMissingError) return skipped(label, err.message);
    throw err;
  }
}

export async function runProfile(profile: Profile, overrides: ProfileOverrides, ctx: ProfileRunContext): Promise<SuiteOutput> {
  const done: SuiteOutput[] = [];
  for (const w of profile.workloads) done.push(await runWorkload(applyOverrides(w, overrides), ctx, done));
  return mergeOutputs(done);
}
