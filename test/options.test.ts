// Option validation, without running anything.
import t from 'tap';
import { parseEchoOptions, type RawEchoOptions } from '../cli/commands/echo.js';
import { parseReportOptions } from '../cli/commands/report.js';
import { parseRunOptions } from '../cli/commands/run.js';
import { parseSwitchOptions } from '../cli/commands/switch.js';
import { UsageError } from '../cli/errors.js';
import { loadAllProfiles, loadProfile, parseProfile } from '../cli/profiles/profile.js';

const base: RawEchoOptions = { conns: '100', txns: '100', size: '100', server: 'coro', runs: '5', warmup: '1', port: '0', timeout: '120' };

t.test('echo defaults', async (t) => {
  const o = parseEchoOptions(base);
  t.same(
    { conns: o.conns, txns: o.txns, size: o.size, servers: o.servers, backends: o.backends, runs: o.runs, warmup: o.warmup, port: o.port },
    { conns: 100, txns: 100, size: 100, servers: ['coro'], backends: [], runs: 5, warmup: 1, port: 0 },
  );
  t.equal(o.noPin, false);
  t.same(parseEchoOptions({ ...base, server: 'all' }).servers, ['coro', 'epoll', 'node']);
  t.same(parseEchoOptions({ ...base, server: 'node,epoll' }).servers, ['node', 'epoll']);
  t.same(parseEchoOptions({ ...base, pin: '1,0' }).pin, [1, 0]);
  t.equal(parseEchoOptions({ ...base, pin: false }).noPin, true);
  t.same(parseEchoOptions({ ...base, backend: 'poll,select' }).backends, ['poll', 'select']);
});

t.test('echo rejects bad values with one clear line', async (t) => {
  const bad: [Partial<RawEchoOptions>, RegExp][] = [
    [{ conns: '0' }, /--conns must be between 1 and/],
    [{ conns: 'ten' }, /--conns must be an integer, got "ten"/],
    [{ txns: '0' }, /--txns must be between 1/],
    [{ size: '2' }, /--size must be between 3 and 65536, got 2/],
    [{ size: '1.5' }, /--size must be an integer/],
    [{ runs: '0' }, /--runs must be between 1/],
    [{ warmup: '-1' }, /--warmup must be between 0/],
    [{ port: '70000' }, /--port must be between 0 and 65535/],
    [{ server: 'apache' }, /unknown --server "apache" \(valid: coro, epoll, node, all\)/],
    [{ pin: '0' }, /--pin must be SERVER_CPU,CLIENT_CPU/],
    [{ raw: true, json: true }, /--raw and --json cannot be combined/],
    [{ tls: true, server: 'node' }, /--tls needs --server coro/],
    [{ backend: ',' }, /--backend needs a name/],
  ];
  for (const [o, re] of bad) t.throws(() => parseEchoOptions({ ...base, ...o }), re, JSON.stringify(o));
  t.throws(() => parseEchoOptions({ ...base, conns: '0' }), UsageError);
});

t.test('switch options', async (t) => {
  const o = parseSwitchOptions({ coros: '2', depth: '0,128,128,4096', iters: '1000', runs: '3', warmup: '0' });
  t.same(o.depths, [0, 128, 4096], 'duplicates dropped');
  t.throws(() => parseSwitchOptions({ coros: '0', depth: '0', iters: '1', runs: '1', warmup: '0' }), /--coros must be between 1/);
  t.throws(() => parseSwitchOptions({ coros: '2', depth: '0,-5', iters: '1', runs: '1', warmup: '0' }), /--depth must be/);
  t.throws(() => parseSwitchOptions({ coros: '2', depth: '0', iters: 'x', runs: '1', warmup: '0' }), /--iters must be an integer/);
});

t.test('run and report options', async (t) => {
  t.throws(() => parseRunOptions(undefined, { port: '0' }), /run needs a PROFILE/);
  t.throws(() => parseRunOptions('readme', { port: '0', list: true }), /either --list or a PROFILE/);
  const o = parseRunOptions('readme', { port: '0', conns: '4', txns: '10', runs: '1', warmup: '0' });
  t.same(o.overrides, { conns: 4, txns: 10, size: undefined, runs: 1, warmup: 0, idleSeconds: undefined });
  t.throws(() => parseRunOptions('readme', { port: '0', size: '1' }), /--size must be between 3/);
  t.throws(() => parseReportOptions([], {}), /at least one results FILE/);
  t.throws(() => parseReportOptions(['a.json'], { html: 'out.txt' }), /--html wants a .html file/);
});

t.test('shipped profiles load and say what they are', async (t) => {
  const all = loadAllProfiles();
  const names = all.map((p) => p.name);
  for (const n of ['readme', 'c1k', 'big', 'idle10k', 'smtp', 'tls', 'switch']) t.ok(names.includes(n), `profile ${n} exists`);
  for (const p of all) t.ok(p.description.length > 10 && !p.description.includes('\n'), `${p.name} has a one-line description`);
  const readme = loadProfile('readme');
  t.match(readme.workloads[0], { kind: 'echo', conns: 100, txns: 100, size: 100 });
  const idle = loadProfile('idle10k').workloads[0];
  t.match(idle, { kind: 'idle', conns: 10000 });
  t.throws(() => loadProfile('nope'), /unknown profile "nope" \(valid: .*readme/);
});

t.test('profile validation', async (t) => {
  const p = (o: unknown): unknown => parseProfile('x', JSON.stringify(o));
  t.throws(() => parseProfile('x', '{'), /not valid JSON/);
  t.throws(() => p({ workloads: [] }), /"description" must be one line/);
  t.throws(() => p({ description: 'd', workloads: [] }), /"workloads" must be a non-empty list/);
  t.throws(() => p({ description: 'd', workloads: [{ kind: 'ftp' }] }), /unknown kind "ftp" \(valid: echo, idle, smtp, switch, soak\)/);
  t.throws(() => p({ description: 'd', workloads: [{ kind: 'echo', conns: 0, txns: 1, size: 3 }] }), /"conns" must be an integer between 1/);
  t.throws(() => p({ description: 'd', workloads: [{ kind: 'echo', conns: 1, txns: 1, size: 3, servers: ['iis'] }] }), /unknown server "iis"/);
  t.throws(() => p({ description: 'd', workloads: [{ kind: 'switch', depths: [] }] }), /"depths" must be a non-empty list/);
  t.match(p({ description: 'd', workloads: [{ kind: 'echo', conns: 1, txns: 1, size: 3 }] }), {
    workloads: [{ kind: 'echo', runs: 3, warmup: 1, servers: ['coro'], backends: [], tls: false }],
  });
});
