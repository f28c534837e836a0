import { buildChangeBranchName } from '../branch-name.js';
import { unifiedDiff } from '../diff.js';
import { parseResourceAddress } from './address.js';
import { addImportBlock, type TfImportOutcome } from './imports-file.js';
import { addResourceBlock } from './resources-file.js';

/** The part of a config terraform target the plan needs (a `TerraformTarget` fits). */
export interface TfImportPlanTarget {
  readonly name: string;
  readonly dir: string;
  readonly importsFile: string;
  readonly resourcesFile?: string;
}

export interface TfFileChange {
  readonly path: string;
  readonly before: string | null;
  readonly after: string;
  readonly diff: string;
}

export type TfImportPlan =
  | {
      readonly kind: 'change';
      readonly target: string;
      readonly address: string;
      readonly id: string;
      readonly branch: string;
      readonly title: string;
      /** imports file first, then (for /tf-import vm) the resources file. */
      readonly files: readonly TfFileChange[];
    }
  | {
      readonly kind: 'already-present';
      readonly target: string;
      readonly address: string;
      readonly path: string;
      readonly reason: string;
    };

export const tfPath = (dir: string, file: string): string =>
  dir === '.' || dir === '' ? file : `${dir.replace(/\/+$/, '')}/${file}`;

/** The branch of an import into one target, e.g. `opsbot/tf-import/prod/google_compute_instance-web-1`. */
export const buildTfImportBranchName = (target: string, address: string): string => {
  const a = parseResourceAddress(address);
  const what = [...a.modules.map((m) => m.name), a.type, a.name, a.key === null ? '' : String(a.key)]
    .filter(Boolean)
    .join('-');
  return buildChangeBranchName('tf-import', target, what);
};

/**
 * Plans `/tf-import`: the import block in `<dir>/<importsFile>` and, when `resourceBlock` is given
 * (`/tf-import vm`), the generated resource in `<dir>/<resourcesFile>`. Contents are read at the base
 * branch (null: file absent). Throws AppError('bad_input') for a refused address or id.
 */
export const planTfImportChange = (
  target: TfImportPlanTarget,
  files: { readonly imports: string | null; readonly resources?: string | null },
  address: string,
  id: string,
  resourceBlock?: string,
): TfImportPlan => {
  const importsPath = tfPath(target.dir, target.importsFile);
  const outcome: TfImportOutcome = addImportBlock(files.imports, address, id);
  if (outcome.kind === 'already-present') {
    return {
      kind: 'already-present',
      target: target.name,
      address: outcome.address,
      path: importsPath,
      reason: outcome.reason,
    };
  }
  const changes: TfFileChange[] = [
    {
      path: importsPath,
      before: files.imports,
      after: outcome.after,
      diff: unifiedDiff(importsPath, files.imports, outcome.after),
    },
  ];
  if (resourceBlock !== undefined) {
    const resourcesPath = tfPath(target.dir, target.resourcesFile ?? 'imported.tf');
    const before = files.resources ?? null;
    const res = addResourceBlock(before, outcome.address, resourceBlock);
    if (res.kind === 'already-present') {
      return {
        kind: 'already-present',
        target: target.name,
        address: outcome.address,
        path: resourcesPath,
        reason: res.reason,
      };
    }
    changes.push({
      path: resourcesPath,
      before,
      after: res.after,
      diff: unifiedDiff(resourcesPath, before, res.after),
    });
  }
  return {
    kind: 'change',
    target: target.name,
    address: outcome.address,
    id,
    branch: buildTfImportBranchName(target.name, address),
    title: `tf-import: ${outcome.summary}`,
    files: changes,
  };
};
