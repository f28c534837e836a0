/** Versionlock editing: the formats, the requests and the coded outcomes every editor returns. */

export type VersionlockFormat = 'yum' | 'dnf' | 'ansible-vars';
export const VERSIONLOCK_FORMATS: readonly VersionlockFormat[] = ['yum', 'dnf', 'ansible-vars'];

/** How a target's file is edited: the config's versionlock target carries exactly these. */
export interface VersionlockFileOptions {
  readonly format: VersionlockFormat;
  /** ansible-vars only: dotted key path of the list, e.g. `versionlock_packages` or `yum.versionlock`. */
  readonly key?: string | undefined;
  /** Per-package default release, e.g. `{ elasticsearch: '1' }` (needed by yum when the user gives none). */
  readonly releases?: Readonly<Record<string, string>> | undefined;
  /** Architecture written in lock lines; `*` (any) by default. */
  readonly arch?: string | undefined;
}

export type VersionlockRequest =
  | { readonly op: 'add'; readonly pkg: string; readonly version: string }
  | { readonly op: 'remove'; readonly pkg: string };

/** One entry as found in a file (a lock or an exclude). Fields are null when the entry does not carry them. */
export interface LockEntry {
  readonly name: string;
  readonly epoch: string | null;
  readonly version: string | null;
  readonly release: string | null;
  readonly arch: string | null;
  /** `!` lines of the yum/dnf list (exclude instead of lock); `state: absent` items of an ansible list. */
  readonly exclude: boolean;
  /** The entry exactly as written (trimmed line, or the YAML string). */
  readonly text: string;
  /** 1-based line of the entry in the file. */
  readonly line: number;
}

export type VersionlockOutcome =
  | {
      readonly kind: 'changed';
      readonly op: 'add' | 'remove';
      readonly pkg: string;
      readonly before: string;
      readonly after: string;
      /** One sentence for a commit title / Slack: "lock elasticsearch to 0:elasticsearch-7.10.2-1.*". */
      readonly summary: string;
      /** add: the entry written; remove: the (first) entry removed. */
      readonly line: string;
      /** Entries that this change took out (an add that replaces an older lock lists it here). */
      readonly removed: readonly string[];
    }
  | {
      readonly kind: 'nothing-to-do';
      readonly op: 'add' | 'remove';
      readonly pkg: string;
      readonly reason: string;
    };

/** What a user asked for, validated: `[EPOCH:]VERSION[-RELEASE]` split into parts. */
export interface VersionSpec {
  readonly epoch: string | null;
  readonly version: string;
  readonly release: string | null;
}
