// A small seeded pseudo-random generator, so a bootstrap interval computed
// from the same samples is the same on every run and every machine.

/** The gate's fixed seed; each metric mixes in its own id (seedFor). */
export const GATE_SEED = 0x5eed_c0de;

/** FNV-1a hash of a label mixed with a base seed: one stream per metric. */
export function seedFor(label: string, base = GATE_SEED): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: uniform numbers in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
