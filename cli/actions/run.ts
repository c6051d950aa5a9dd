// `coro-bench run`: lists profiles or runs one and reports.
import type { IO } from '../commands/io.js';
import type { RunOptions } from '../commands/run.js';
import { checkTargets, customConfigs, pinningWithTargets, readyPattern } from '../engine/configs.js';
import { requirePortFree } from '../engine/preflight.js';
import { runProfile } from '../engine/profile.js';
import { createProgress } from '../measure/progress.js';
import { coroVersion, tlsLibraryOf } from '../native/coro.js';
import { buildLabel, paths } from '../paths.js';
import { loadAllProfiles, loadProfile } from '../profiles/profile.js';
import { makeDoc } from '../results/doc.js';
import type { ResultsDoc } from '../results/types.js';
import { describePinning, resolvePinning } from '../workload/launch.js';
import { installReaper } from '../workload/process.js';
import { requireProgram } from '../workload/servers.js';
import { emitDoc, savePartialOnInterrupt } from './output.js';

export async function runAction(o: RunOptions, io: IO): Promise<number> {
  if (o.list) {
    const profiles = loadAllProfiles();
    if (o.json) {
      io.out(`${JSON.stringify(profiles.map((p) => ({ name: p.name, description: p.description, workloads: p.workloads })), null, 2)}\n`);
    } else {
      const w = Math.max(...profiles.map((p) => p.name.length));
      io.out(profiles.map((p) => `${p.name.padEnd(w)}  ${p.description}`).join('\n') + '\n');
    }
    return 0;
  }
  const profile = loadProfile(o.profile as string);
  // Without the library and the client nothing in any profile can run: say so now (exit 2).
  coroVersion();
  if (profile.workloads.some((w) => w.kind === 'echo' || w.kind === 'idle' || w.kind === 'soak')) requireProgram(paths.echoClient, 'echo_client');
  await requirePortFree(o.port);
  const pinning = resolvePinning(o.pin, o.noPin);
  installReaper();
  const started = new Date();
  const builds = o.builds.map((dir) => ({ build: buildLabel(dir), dir, tls_library: tlsLibraryOf(dir) }));
  for (const b of builds) io.err(`${b.build}: ${b.tls_library} (${b.dir})\n`);
  const custom = customConfigs(o.serverCmds, o.targets, readyPattern(o.ready));
  await checkTargets(custom);
  const parameters = {
    profile: profile.name,
    overrides: o.overrides,
    port: o.port,
    ...(builds.length ? { builds } : {}),
    ...(custom.length ? { server_cmds: o.serverCmds, targets: o.targets } : {}),
  };
  let latest: ResultsDoc | undefined;
  savePartialOnInterrupt(o, io, () => latest);
  const progress = createProgress(true);
  const pinningText = pinningWithTargets(describePinning(pinning), custom, true);
  progress.note(`profile ${profile.name}: ${profile.description}; ${pinningText}`);
  const out = await runProfile(profile, o.overrides, {
    builds: o.builds,
    custom,
    port: o.port,
    pinning,
    progress,
    partial: (p) => {
      latest = makeDoc({ command: 'run', profile: profile.name, parameters, pinning: pinningText, started, ...p, partial: true });
    },
  });
  const doc = makeDoc({ command: 'run', profile: profile.name, parameters, pinning: pinningText, started, ...out });
  latest = doc;
  return emitDoc(doc, o, io);
}
