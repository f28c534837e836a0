/**
 * Sums up a V8 .cpuprofile (node --cpu-prof): self time by function and by package or source file.
 * `npx tsx bench/lib/cpuprofile-top.ts <file.cpuprofile> [top=30]`
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export const summariseProfile = (
  profile: CpuProfile,
  top = 30,
): { totalMs: number; functions: [string, number][]; packages: [string, number][] } => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    if (!node) return;
    const cf = node.callFrame;
    const url = cf.url
      .replace(/^.*node_modules\//, 'nm/')
      .replace(/^file:\/\/.*?\/(src|bench|test)\//, '$1/');
    const fn = `${cf.functionName || '(anonymous)'}  ${url}${url ? `:${cf.lineNumber + 1}` : ''}`;
    self.set(fn, (self.get(fn) ?? 0) + dt);
    const pkg = url.match(/^nm\/(@[^/]+\/[^/]+|[^/]+)/)?.[1] ?? (url || `(${cf.functionName || 'native'})`);
    packages.set(pkg, (packages.get(pkg) ?? 0) + dt);
  });
  const sorted = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]): [string, number] => [k, v / 1000]);
  return { totalMs: total / 1000, functions: sorted(self), packages: sorted(packages) };
};

const main = (): void => {
  process.stdout.on('error', () => process.exit(0)); // piped into head
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    console.error('usage: cpuprofile-top <file.cpuprofile> [top]');
    process.exit(2);
  }
  const s = summariseProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(topArg ?? 30));
  const line = ([k, ms]: [string, number]) =>
    `${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / s.totalMs).toFixed(1).padStart(5)}%  ${k}`;
  console.log(`total ${s.totalMs.toFixed(0)} ms sampled`);
  console.log('--- self time by function');
  for (const f of s.functions) console.log(line(f));
  console.log('--- self time by package / file');
  for (const p of s.packages) console.log(line(p));
};

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\u0000')) main();
