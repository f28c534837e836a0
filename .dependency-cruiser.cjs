/**
 * Layer direction, checked by `npm run lint`: core <- store/server/integrations <- playbooks <- handlers/cli
 * <- main (src/main.ts, and src/cli.ts, the process entry that starts it). A module may import its own layer
 * and the layers below it, never one above. Type-only imports count too: a type from above is a dependency.
 *
 * Sources are read with swc (`parser: 'swc'`, the @swc/core devDependency): dependency-cruiser reads TypeScript
 * only through the TypeScript 5 compiler API (typescript >=2 <7), and the project's compiler is TypeScript 7, which
 * has none. swc sees every import declaration, `import type` included, and every `import('...')` call, but not
 * `import('...')` in a type (`typeof import('./x.js')`): lint/no-import-type-query.grit (Biome) forbids those.
 * Without a parser for .ts, dependency-cruiser would cruise no module and report no violation: hence the check below.
 */
const swcVersion = (() => {
  try {
    return require('@swc/core/package.json').version;
  } catch {
    return 'missing';
  }
})();
if (!/^1\./.test(swcVersion)) {
  throw new Error(
    `.dependency-cruiser.cjs: dependency-cruiser reads src/ with @swc/core 1.x (found: ${swcVersion}); without it no .ts file is cruised and the layer check would pass on nothing. Run npm ci.`,
  );
}
const core = '^src/core/';
const low = '^src/(store|server|integrations)/';
const playbooks = '^src/playbooks/';
const upper = '^src/(handlers|cli)/';
const top = '^src/(main|cli)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing-above',
      comment: 'src/core is the ground floor: config, logger, errors, secrets, access rules.',
      severity: 'error',
      from: { path: core },
      to: { path: [low, playbooks, upper, top] },
    },
    {
      name: 'store-server-integrations-below-playbooks',
      severity: 'error',
      from: { path: low },
      to: { path: [playbooks, upper, top] },
    },
    {
      name: 'playbooks-below-handlers-and-cli',
      comment: 'Playbooks return data; Slack rendering and the CLI are above them.',
      severity: 'error',
      from: { path: playbooks },
      to: { path: [upper, top] },
    },
    {
      name: 'no-circular',
      comment:
        'Two modules that import each other (even for types) are one module in two files: split out what both need.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'handlers-and-cli-below-main',
      comment: 'Only the composition root (src/main.ts) and the process entry (src/cli.ts) wire everything.',
      severity: 'error',
      from: { path: upper },
      to: { path: top },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(test|bench|dist)/' },
  },
};
