import { describe, expect, it } from 'vitest';
import { planTfImportChange } from '../../../src/playbooks/tf-import/index.js';

const target = { name: 'prod', dir: 'stacks/prod', importsFile: 'imports.tf', resourcesFile: 'imported.tf' };

describe('planTfImportChange', () => {
  it('plans the imports file and the generated resource file', () => {
    const plan = planTfImportChange(
      target,
      { imports: null, resources: '# generated\n' },
      'google_compute_instance.web-1',
      'projects/p/zones/z/instances/web-1',
      'resource "google_compute_instance" "web-1" {\n}\n',
    );
    expect(plan).toMatchObject({
      kind: 'change',
      branch: 'opsbot/tf-import/prod/google_compute_instance-web-1',
      title: 'tf-import: import google_compute_instance.web-1 (id "projects/p/zones/z/instances/web-1")',
    });
    if (plan.kind !== 'change') return;
    expect(plan.files.map((f) => [f.path, f.before === null])).toEqual([
      ['stacks/prod/imports.tf', true],
      ['stacks/prod/imported.tf', false],
    ]);
    expect(plan.files[1]?.after).toBe('# generated\n\nresource "google_compute_instance" "web-1" {\n}\n');
    expect(plan.files[0]?.diff.startsWith('--- /dev/null\n+++ b/stacks/prod/imports.tf\n')).toBe(true);
  });

  it('refuses when the resource is already defined in the resources file', () => {
    const plan = planTfImportChange(
      { ...target, dir: '.' },
      { imports: '', resources: 'resource "google_compute_instance" "web-1" {\n  name = "web-1"\n}\n' },
      'google_compute_instance.web-1',
      'x',
      'resource "google_compute_instance" "web-1" {}\n',
    );
    expect(plan).toMatchObject({ kind: 'already-present', path: 'imported.tf' });
  });
});
