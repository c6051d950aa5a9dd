// The parser against the exact lines of the coro++ README session
// (echo_client 127.0.0.1 9001 100 100 100 on macOS with kqueue), and the
// format our own programs print (coro_rusage_format).
import t from 'tap';
import { formatRusageLine, parseBlockLine, parseRusageLine, rusageFromJson } from '../cli/rusage/parse.js';

const README_SERVER =
  'server bench: 1 772274|0 072406|0 088307|maxrss:4591616 ixrss:0 idrss:0 isrss:0 minflt:979 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:10000 msgrcv:10100 nsignals:0 nvcsw:0 nivcsw:219';
const README_CLIENT =
  'client bench: 0 164574|0 015882|0 112953|maxrss:1232896 ixrss:0 idrss:0 isrss:0 minflt:155 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:10101 msgrcv:10001 nsignals:0 nvcsw:0 nivcsw:5083';
const README_BLOCKS = 'read_block: 10101  write_block: 100';

t.test('coro++ README server line', async (t) => {
  const r = parseRusageLine(README_SERVER);
  t.equal(r.wall_us, 1_772_274);
  t.equal(r.utime_us, 72_406, 'zero-padded microseconds');
  t.equal(r.stime_us, 88_307);
  t.equal(r.maxrss_kib, 4_591_616);
  t.equal(r.minflt, 979);
  t.equal(r.msgsnd, 10000);
  t.equal(r.msgrcv, 10100);
  t.equal(r.nvcsw, 0);
  t.equal(r.nivcsw, 219);
});

t.test('coro++ README client line and block line', async (t) => {
  const r = parseRusageLine(README_CLIENT);
  t.equal(r.wall_us, 164_574);
  t.equal(r.utime_us, 15_882);
  t.equal(r.stime_us, 112_953);
  t.equal(r.nivcsw, 5083);
  t.same(parseBlockLine(README_BLOCKS), { read_block: 10101, write_block: 100 });
});

t.test('round trip through the coro_rusage_format layout', async (t) => {
  const line = '0 212916|0 066616|0 146137|maxrss:2180 ixrss:0 idrss:0 isrss:0 minflt:126 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:7 nivcsw:8';
  const r = parseRusageLine(line);
  t.equal(formatRusageLine(r), line);
  t.equal(formatRusageLine(parseRusageLine(README_SERVER)), README_SERVER.replace('server bench: ', ''));
});

t.test('bad lines are rejected with a reason', async (t) => {
  t.throws(() => parseRusageLine('server bench: 1 2|3 4|maxrss:1'), /4 "\|"-separated fields/);
  t.throws(() => parseRusageLine('1 2|3 4|5 6|maxrss:1 ixrss:0'), /lacks "idrss:"/);
  const counters = 'maxrss:1 ixrss:0 idrss:0 isrss:0 minflt:1 majflt:0 nswap:0 inblock:0 oublock:0 msgsnd:0 msgrcv:0 nsignals:0 nvcsw:1 nivcsw:1';
  t.throws(() => parseRusageLine(`1|3 4|5 6|${counters}`), /bad wall time/);
  t.throws(() => parseRusageLine(`1 2000000|3 4|5 6|${counters}`), /below 1000000/);
  t.throws(() => parseRusageLine(`1 2|3 4|5 6|${counters} bogus`), /bad rusage counter "bogus"/);
  t.throws(() => parseBlockLine('read_block: x'), /bad read_block line/);
});

t.test('rusage JSON (!bench json)', async (t) => {
  const obj = {
    wall_us: 1, utime_us: 2, stime_us: 3, maxrss_kib: 4, ixrss: 0, idrss: 0, isrss: 0, minflt: 5, majflt: 0,
    nswap: 0, inblock: 0, oublock: 0, msgsnd: 0, msgrcv: 0, nsignals: 0, nvcsw: 6, nivcsw: 7, read_block: 8, write_block: 9,
  };
  const r = rusageFromJson(obj, 'test');
  t.equal(r.read_block, 8);
  t.equal(r.nivcsw, 7);
  t.throws(() => rusageFromJson({ ...obj, utime_us: 'x' }, 'test'), /"utime_us" missing or not a number/);
  t.throws(() => rusageFromJson(null, 'test'), /not an object/);
});
