import type { ParseOutcome } from './pipeline.js';
/**
 * Slash command text -> words and --flags. Quotes group words ("a b" or 'a b'); Slack turns quotes into
 * typographic ones on some clients, so those count too. Unknown flags and missing values are reported as
 * a user-facing problem string, never thrown.
 */
export interface ParsedWords {
  readonly positional: readonly string[];
  readonly flags: Readonly<Record<string, string>>;
}

export type ParseResult<T> =
  | { readonly ok: true; readonly args: T }
  | { readonly ok: false; readonly problem: string };

export const tokenize = (text: string): string[] => {
  const normalized = text.replace(/[\u201c\u201d]/g, '"').replace(/[\u2018\u2019]/g, "'");
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(normalized); m !== null; m = re.exec(normalized)) {
    out.push(m[1] ?? m[2] ?? m[3] ?? '');
  }
  return out;
};

export const parseWords = (text: string, knownFlags: readonly string[]): ParseResult<ParsedWords> => {
  const words = tokenize(text.trim());
  const positional: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w.startsWith('--') || (w.startsWith('\u2014') && w.length > 1)) {
      // Slack's autocorrect turns "--" into an em dash.
      const body = w.startsWith('--') ? w.slice(2) : w.slice(1);
      const eq = body.indexOf('=');
      const name = eq >= 0 ? body.slice(0, eq) : body;
      if (!knownFlags.includes(name)) return { ok: false, problem: `unknown option --${name}` };
      let value: string | undefined = eq >= 0 ? body.slice(eq + 1) : words[i + 1];
      if (eq < 0) i++;
      if (value === undefined || value === '' || value.startsWith('--')) {
        return { ok: false, problem: `--${name} needs a value` };
      }
      if (flags[name] !== undefined) return { ok: false, problem: `--${name} given twice` };
      value = value.trim();
      flags[name] = value;
    } else {
      positional.push(w);
    }
  }
  return { ok: true, args: { positional, flags } };
};

export interface ChangeWords {
  readonly positional: readonly string[];
  readonly values: Readonly<Record<string, string>>;
  readonly switches: ReadonlySet<string>;
}

/**
 * Words, `--name value` / `--name=value` options and `--switch` flags. Slack autocorrects `--` to an em dash,
 * so `—dry-run` counts. Unknown options and missing values are problems for the user, not exceptions.
 */
export const parseChangeWords = (
  text: string,
  valueFlags: readonly string[],
  switchFlags: readonly string[],
): ParseOutcome<ChangeWords> => {
  const words = tokenize(text.trim());
  const positional: string[] = [];
  const values: Record<string, string> = {};
  const switches = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    const dashed = w.startsWith('--')
      ? w.slice(2)
      : w.startsWith('\u2014') && w.length > 1
        ? w.slice(1)
        : null;
    if (dashed === null) {
      positional.push(w);
      continue;
    }
    const eq = dashed.indexOf('=');
    const name = eq >= 0 ? dashed.slice(0, eq) : dashed;
    if (switchFlags.includes(name)) {
      if (eq >= 0) return { ok: false, problem: `--${name} takes no value` };
      switches.add(name);
      continue;
    }
    if (!valueFlags.includes(name)) return { ok: false, problem: `unknown option --${name.slice(0, 40)}` };
    const value = eq >= 0 ? dashed.slice(eq + 1) : words[++i];
    if (value === undefined || value.trim() === '' || value.startsWith('--')) {
      return { ok: false, problem: `--${name} needs a value` };
    }
    if (values[name] !== undefined) return { ok: false, problem: `--${name} given twice` };
    values[name] = value.trim();
  }
  return { ok: true, args: { positional, values, switches } };
};
