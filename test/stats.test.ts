import t from 'tap';
import { mad, median, outlierIndices, percentile, relativeSpread, stddev, summarize } from '../cli/stats/summary.js';
import { statWarnings } from '../cli/stats/warnings.js';

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])));
  const xs = [5, 1, 4];
  median(xs);
  t.same(xs, [5, 1, 4], 'input is not reordered');
});

t.test('percentiles (linear interpolation)', async (t) => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  t.equal(percentile(xs, 0), 1);
  t.equal(percentile(xs, 100), 10);
  t.equal(percentile(xs, 50), 5.5);
  t.equal(percentile(xs, 90), 9.1);
  t.equal(percentile([42], 99), 42);
  t.throws(() => percentile(xs, 101), RangeError);
});

t.test('spread, stddev, MAD', async (t) => {
  t.equal(relativeSpread([90, 100, 110]), 0.2);
  t.equal(relativeSpread([5]), 0);
  t.equal(relativeSpread([3, 3, 3]), 0);
  t.equal(relativeSpread([-1, 0, 1]), Number.POSITIVE_INFINITY, 'zero median with different values');
  t.equal(stddev([2, 4, 4, 4, 5, 5, 7, 9]).toFixed(4), '2.1381');
  t.equal(stddev([1]), 0);
  t.equal(mad([1, 1, 2, 2, 4, 6, 9]), 1);
});

t.test('outliers by modified z-score', async (t) => {
  t.same(outlierIndices([100, 101, 99, 100, 250]), [4], 'one far sample');
  t.same(outlierIndices([100, 101, 99, 102, 98]), [], 'none in a tight set');
  t.same(outlierIndices([100, 101, 300]), [], 'too few samples to tell');
  t.same(outlierIndices([5, 5, 5, 5, 9]), [4], 'MAD 0: anything clearly off the median');
  t.same(outlierIndices([650, 650, 650, 650, 650.1]), [], 'MAD 0: but not a 0.02 % difference');
});

t.test('summarize', async (t) => {
  const s = summarize([10, 12, 11, 30, 11]);
  t.equal(s.median, 11);
  t.equal(s.min, 10);
  t.equal(s.max, 30);
  t.equal(s.n, 5);
  t.equal(s.mean, 14.8);
  t.same(s.outliers, [3]);
  t.equal(s.spread, 20 / 11);
  const empty = summarize([]);
  t.equal(empty.n, 0);
  t.ok(Number.isNaN(empty.median));
});

t.test('warnings for spread and outliers', async (t) => {
  t.same(statWarnings('x', 'txn/s', summarize([100, 101, 102])), [], 'quiet');
  const w = statWarnings('x', 'txn/s', summarize([100, 101, 99, 100, 250]));
  t.equal(w.length, 2);
  t.match(w[0], /x: txn\/s varies by 151 %/);
  t.match(w[1], /1 outlier run\(s\) of 5 \(run 5\)/);
});
