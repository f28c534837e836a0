import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layer rule of docs/architecture.md, checked on every relative import under src/ (static, `export from`
 * and dynamic `import()`): core <- store/server/integrations <- playbooks <- handlers/cli <- main. A module may
 * import its own layer's folder and any lower layer; never a higher one, nor a sibling layer of the same rank.
 */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

const RANK: Readonly<Record<string, number>> = {
  core: 0,
  store: 1,
  server: 1,
  integrations: 1,
  playbooks: 2,
  handlers: 3,
  cli: 3,
  main: 4,
};

/** Each exception names why; anything else that crosses the rule fails. */
const ALLOWED: ReadonlyArray<{ from: string; to: string; why: string }> = [
  {
    from: 'integrations/slack/',
    to: 'server/drain.ts',
    why: 'the Slack receivers register acked work with the in-flight tracker (a type-only import)',
  },
  { from: 'cli/serve.ts', to: 'main.ts', why: '`opsbot serve` loads the composition root on demand' },
];

const layerOf = (file: string): string => {
  const top = relative(SRC, file).split('/')[0] ?? '';
  return top.replace(/\.ts$/, '');
};

const listTs = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTs(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g;

const violations = (): string[] => {
  const out: string[] = [];
  for (const file of listTs(SRC)) {
    const from = layerOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), (m[1] ?? '').replace(/\.js$/, '.ts'));
      const to = layerOf(target);
      if (to === from) continue;
      const a = RANK[from];
      const b = RANK[to];
      if (a === undefined || b === undefined) {
        out.push(`${relative(SRC, file)}: layer of "${from}" or "${to}" is not in the rule`);
        continue;
      }
      if (b < a) continue;
      const rel = relative(SRC, file);
      const relTarget = relative(SRC, target);
      if (ALLOWED.some((x) => rel.startsWith(x.from) && relTarget === x.to)) continue;
      out.push(`${rel} (${from}) imports ${relTarget} (${to})`);
    }
  }
  return out;
};

describe('layers', () => {
  it('every import under src/ points down the layer rule (or is a named exception)', () => {
    expect(violations()).toEqual([]);
  });

  it('the check sees imports at all (it would catch handlers imported from a playbook)', () => {
    const text = "import { x } from '../../handlers/pipeline.js';\nconst y = await import('./z.js');";
    expect([...text.matchAll(IMPORT)].map((m) => m[1])).toEqual(['../../handlers/pipeline.js', './z.js']);
    expect(listTs(SRC).length).toBeGreaterThan(50);
  });
});
