// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HCL/shell template sequences are the test data here
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  addImportBlock,
  decodeHclString,
  escapeHclString,
  listImportBlocks,
  parseResourceAddress,
} from '../../../src/playbooks/tf-import/index.js';

const IMPORTS = `# Imports of resources created by hand during incidents (see runbook).
import {
  to = google_compute_instance.web-1
  id = "projects/acme-prod/zones/europe-west1-b/instances/web-1"
}

import {
  to   =   module.net[ "eu" ].google_compute_network.main   # aligned by hand
  id   = "projects/acme-prod/global/networks/main"
}

/*
import {
  to = google_compute_instance.old
  id = "commented out"
}
*/
import { to = google_storage_bucket.logs }

resource "null_resource" "x" {
  triggers = {
    to = "google_compute_instance.fake"
  }
  provisioner "local-exec" {
    command = <<-EOT
      import {
        to = google_compute_instance.inheredoc
      }
    EOT
  }
}
`;

const terraformAvailable = (() => {
  try {
    execFileSync('terraform', ['version'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
})();

describe('import blocks', () => {
  it('finds real import blocks across formatting, not commented-out or quoted ones', () => {
    expect(listImportBlocks(IMPORTS).map((b) => [b.to, b.id, b.line])).toEqual([
      ['google_compute_instance.web-1', 'projects/acme-prod/zones/europe-west1-b/instances/web-1', 2],
      ['module.net["eu"].google_compute_network.main', 'projects/acme-prod/global/networks/main', 7],
      ['google_storage_bucket.logs', null, 18],
    ]);
  });

  it('appends a block separated by a blank line and touches nothing else', () => {
    const o = addImportBlock(IMPORTS, 'google_compute_instance.old', 'projects/p/zones/z/instances/old');
    expect(o).toMatchObject({ kind: 'changed', address: 'google_compute_instance.old' });
    if (o.kind !== 'changed') return;
    expect(o.after).toBe(
      `${IMPORTS}\nimport {\n  to = google_compute_instance.old\n  id = "projects/p/zones/z/instances/old"\n}\n`,
    );
  });

  it('refuses an import for an address already imported, whatever the formatting', () => {
    const o = addImportBlock(IMPORTS, 'module.net["eu"].google_compute_network.main', 'other');
    expect(o).toEqual({
      kind: 'already-present',
      address: 'module.net["eu"].google_compute_network.main',
      line: 7,
      existingId: 'projects/acme-prod/global/networks/main',
      reason:
        'an import block for module.net["eu"].google_compute_network.main is already in the file (line 7, id "projects/acme-prod/global/networks/main")',
    });
    // the heredoc/string/comment look-alikes do not count
    expect(addImportBlock(IMPORTS, 'google_compute_instance.inheredoc', 'x').kind).toBe('changed');
    expect(addImportBlock(IMPORTS, 'google_compute_instance.fake', 'x').kind).toBe('changed');
  });

  it('creates the file content when absent and keeps CRLF files CRLF', () => {
    const o = addImportBlock(null, 'aws_s3_bucket.b["k"]', 'bucket-1');
    expect(o).toMatchObject({
      kind: 'changed',
      after: 'import {\n  to = aws_s3_bucket.b["k"]\n  id = "bucket-1"\n}\n',
    });
    const crlf = addImportBlock('# x\r\n', 'aws_s3_bucket.b', 'b');
    expect(crlf).toMatchObject({
      after: '# x\r\n\r\nimport {\r\n  to = aws_s3_bucket.b\r\n  id = "b"\r\n}\r\n',
    });
    const noEol = addImportBlock('# x', 'aws_s3_bucket.b', 'b');
    expect(noEol).toMatchObject({ after: '# x\n\nimport {\n  to = aws_s3_bucket.b\n  id = "b"\n}\n' });
  });

  it('escapes ids as HCL strings', () => {
    expect(escapeHclString('a"b\\c${d}%{e}$f%g$${h}')).toBe('"a\\"b\\\\c$${d}%%{e}$f%g$$${h}"');
    expect(decodeHclString('a\\"b\\\\c$${d}%%{e}$f%g$$${h}')).toBe('a"b\\c${d}%{e}$f%g$${h}');
    expect(decodeHclString('x${var.y}')).toBeNull();
    expect(() => escapeHclString('a\nb')).toThrow('newlines and control characters');
  });

  it.skipIf(!terraformAvailable)('terraform itself reads the escaped id back as the same value', () => {
    const ids = [
      'plain/id',
      'q"uote',
      'back\\slash',
      '${interp}',
      '%{ if x }',
      '$${already}',
      'a$',
      '%%{',
      'ünï',
    ];
    for (const id of ids) {
      const expr = `base64encode(${escapeHclString(id)})`;
      const out = execFileSync('terraform', ['console'], {
        input: `${expr}\n`,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1' },
      }).trim();
      expect(Buffer.from(JSON.parse(out.split('\n').at(-1) as string), 'base64').toString('utf8')).toBe(id);
    }
  });
});

describe('resource addresses', () => {
  it('accepts the grammar, canonicalises it', () => {
    expect(parseResourceAddress('module.a[0].module.b["k"].google_compute_instance.web-1[3]')).toEqual({
      modules: [
        { name: 'a', key: 0 },
        { name: 'b', key: 'k' },
      ],
      type: 'google_compute_instance',
      name: 'web-1',
      key: 3,
    });
  });

  it.each([
    ['data.google_compute_image.debian', 'data sources cannot be imported'],
    ['google_compute_instance', 'expected "."'],
    ['compute.web', 'resource type must match'],
    ['google_compute_instance.1web', 'resource name must match'],
    ['google_compute_instance.web[01]', 'instance key'],
    ['google_compute_instance.web["a\\"b"]', 'refused'],
    ['google_compute_instance.web["${x}"]', 'string key'],
    ['module.a.google_compute_instance', 'expected "."'],
    ['google_compute_instance.web extra', 'unexpected'],
    ['google_compute_instance.web\n', 'unexpected'],
    ['Google_compute.web', 'resource type must match'],
  ])('refuses %j (%s)', (address, why) => {
    expect(() => parseResourceAddress(address)).toThrow(why);
  });
});
