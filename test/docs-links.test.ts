// Every relative link in README.md and docs/*.md must lead somewhere: the
// README is short and sends readers to docs/, so a renamed file or heading
// would otherwise strand them silently. Anchors are checked against the
// headings of the target file, slugged the way GitHub renders them.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Each line of Markdown text, or null where it is a code fence or inside one. */
function outsideFences(text: string): (string | null)[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const m = /^\s*(```+|~~~+)/.exec(line);
    if (m) {
      if (fence === null) fence = m[1][0];
      else if (m[1][0] === fence) fence = null;
      return null;
    }
    return fence === null ? line : null;
  });
}

/** Markdown text without fenced code blocks, inline code spans and HTML
 * comments (links there are not links), line numbers kept. */
function proseOf(text: string): string[] {
  const lines = outsideFences(text).map((l) => (l === null ? '' : l.replace(/`+[^`]*`+/g, '')));
  // HTML comments hold notes for maintainers, not links.
  return lines.join('\n').replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, '')).split('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2, ... */
export function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of outsideFences(text)) {
    const h = line === null ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const base = h[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

/** Relative links (inline `[x](target)` and reference `[x]: target`) of one Markdown file. */
export function linksOf(file: string): Link[] {
  const links: Link[] = [];
  proseOf(readFileSync(file, 'utf8')).forEach((line, i) => {
    const found = [...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
    const ref = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (ref) found.push(ref[1]);
    for (const target of found) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto: ...
      links.push({ file, line: i + 1, target });
    }
  });
  return links;
}

/** The links that do not resolve, each as "file:line: target: why". */
export function brokenLinks(files: string[]): string[] {
  const broken: string[] = [];
  for (const link of files.flatMap(linksOf)) {
    const [pathPart, anchor] = link.target.split('#', 2) as [string, string | undefined];
    const target = pathPart === '' ? link.file : resolve(dirname(link.file), decodeURIComponent(pathPart));
    const where = `${link.file}:${link.line}: ${link.target}`;
    if (!existsSync(target)) {
      broken.push(`${where}: no such file`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (statSync(target).isDirectory() || !target.endsWith('.md')) {
      broken.push(`${where}: an anchor into something that is not a Markdown file`);
      continue;
    }
    if (!anchorsOf(readFileSync(target, 'utf8')).has(anchor.toLowerCase())) {
      broken.push(`${where}: no heading with that anchor`);
    }
  }
  return broken;
}

function projectDocs(): string[] {
  const docs = join(ROOT, 'docs');
  return [
    join(ROOT, 'README.md'),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => join(docs, f)),
  ];
}

t.test('every relative link in README.md and docs/*.md resolves', async (t) => {
  const files = projectDocs();
  const links = files.flatMap(linksOf);
  // The README links to docs/: finding no links means the scan is broken.
  t.ok(links.length >= 10, `found ${links.length} relative links in ${files.length} files`);
  t.ok(
    links.some((l) => l.file.endsWith('README.md') && l.target === 'docs/cli.md'),
    'the README links docs/cli.md',
  );
  t.same(brokenLinks(files), [], 'no broken links');
});

t.test('the checker catches a missing file, a missing anchor, and ignores code', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'coro-links-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'docs'));
  writeFileSync(
    join(dir, 'docs', 'a.md'),
    [
      '# Topic A',
      '## `coro-bench echo`',
      '## Performance (measured here)',
      '## Repeat',
      '## Repeat',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'README.md'),
    [
      'Good: [a](docs/a.md), [echo](docs/a.md#coro-bench-echo), [perf](docs/a.md#performance-measured-here),',
      '[second](docs/a.md#repeat-1), [self](#readme), [web](https://example.org/x.md).',
      'Bad: [gone](docs/gone.md) and [anchor](docs/a.md#no-such-heading).',
      '`[in code](docs/also-gone.md)`',
      '```',
      '[in a fence](docs/fenced-gone.md)',
      '```',
      '[ref]: docs/ref-gone.md',
      '# README',
    ].join('\n'),
  );
  const broken = brokenLinks([join(dir, 'README.md'), join(dir, 'docs', 'a.md')]);
  t.same(
    broken.map((b) => b.replace(dir + '/', '')),
    [
      'README.md:3: docs/gone.md: no such file',
      'README.md:3: docs/a.md#no-such-heading: no heading with that anchor',
      'README.md:8: docs/ref-gone.md: no such file',
    ],
  );
});
