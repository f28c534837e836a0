import { describe, expect, it } from 'vitest';
import { failedHunkOf, withTrailers } from '../../../src/integrations/git/workspace.js';
import { checkPatch } from '../../../src/playbooks/amend/patch.js';

/** The diff checks that run before git sees a diff, and the small text helpers of the git workspace. */

const edit = (path: string, from = path) => `diff --git a/${from} b/${path}
--- a/${from}
+++ b/${path}
@@ -1 +1 @@
-a
+b
`;

describe('checkPatch', () => {
  it('accepts git and plain unified diffs and names the files', () => {
    expect(checkPatch(edit('inventory/hosts'))).toEqual({ ok: true, files: ['inventory/hosts'] });
    const plain = '--- hosts.orig\t2026-01-01\n+++ hosts\t2026-01-02\n@@ -1 +1 @@\n-a\n+b\n';
    expect(checkPatch(plain)).toEqual({ ok: true, files: ['hosts', 'hosts.orig'] });
    const created =
      'diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+x\n';
    expect(checkPatch(created)).toEqual({ ok: true, files: ['new.txt'] });
  });

  it.each([
    ['a parent path', edit('../secrets.txt'), 'outside the repository'],
    ['a nested parent path', edit('a/../../b'), 'outside the repository'],
    ['an absolute path', '--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n', 'absolute path'],
    ['a path inside .git', edit('.git/hooks/pre-push'), 'inside .git'],
    [
      'a rename out of the repo',
      'diff --git a/x b/x\nrename from x\nrename to ../x\n',
      'outside the repository',
    ],
    ['a quoted parent path', '--- "a/../x"\n+++ "b/../x"\n@@ -1 +1 @@\n-a\n+b\n', 'outside the repository'],
    ['a binary patch', 'diff --git a/x.png b/x.png\nGIT binary patch\nliteral 1\nAcmZ?w0RR91\n', 'binary'],
    [
      'a binary notice',
      'diff --git a/x.png b/x.png\nindex 1..2 100644\nBinary files a/x.png and b/x.png differ\n',
      'binary',
    ],
    ['no diff at all', 'please lock kibana', 'not a unified diff'],
    ['nothing', '  \n', 'empty'],
  ])('refuses %s', (_name, patch, problem) => {
    const out = checkPatch(patch);
    expect(out.ok).toBe(false);
    expect(out.ok === false && out.problem).toContain(problem);
  });
});

describe('failedHunkOf', () => {
  it('cuts the hunk git names in "patch failed: <file>:<line>" out of the diff', () => {
    const patch = `${edit('a.txt')}diff --git a/b.txt b/b.txt\n--- a/b.txt\n+++ b/b.txt\n@@ -1,2 +1,2 @@\n x\n-y\n+z\n@@ -10,2 +10,2 @@\n p\n-q\n+r\n`;
    expect(failedHunkOf(patch, 'error: patch failed: b.txt:10\nerror: b.txt: patch does not apply')).toBe(
      '@@ -10,2 +10,2 @@\n p\n-q\n+r',
    );
    expect(failedHunkOf(patch, 'error: something else')).toBeNull();
  });
});

describe('withTrailers', () => {
  it('adds a trailer paragraph, or extends the existing one without repeating a line', () => {
    expect(withTrailers('Fix it', [['Requested-by', 'alice']])).toBe('Fix it\n\nRequested-by: alice\n');
    expect(
      withTrailers('Fix it\n\nSigned-off-by: Carol <c@x>\n', [
        ['Requested-by', 'alice'],
        ['Approved-by', 'bob\nInjected: yes'],
      ]),
    ).toBe('Fix it\n\nSigned-off-by: Carol <c@x>\nRequested-by: alice\nApproved-by: bob Injected: yes\n');
  });
});
