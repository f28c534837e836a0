import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', 'docs/architecture.md'];

/** Relative link targets of a markdown file: `[text](target)` and `` `../x` `` mentions of paths outside. */
const relativeLinks = (text: string): string[] =>
  [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] as string)
    .filter((t) => !/^(https?:|mailto:|#|<)/.test(t))
    .map((t) => t.split('#')[0] as string);

describe('documentation', () => {
  it.each(DOCS)('%s links only to files inside the repository, and they exist', (doc) => {
    const text = readFileSync(resolve(ROOT, doc), 'utf8');
    const links = relativeLinks(text);
    for (const link of links) {
      const target = resolve(dirname(resolve(ROOT, doc)), link);
      expect(relative(ROOT, target).startsWith('..'), `${doc} -> ${link}`).toBe(false);
      expect(existsSync(target), `${doc} -> ${link}`).toBe(true);
    }
    expect(text).not.toMatch(/`\.\.\/[^`]*`/); // no path outside the repo in prose either
  });

  it('the LICENSE is the license package.json declares', () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('Apache-2.0');
    const license = readFileSync(resolve(ROOT, 'LICENSE'), 'utf8');
    expect(license).toContain('Apache License\n                           Version 2.0, January 2004');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
  });
});
