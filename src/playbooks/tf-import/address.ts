import { AppError } from '../../core/errors.js';
import { IDENTIFIER_RULE } from './hcl.js';

/**
 * Terraform resource addresses as an import block's `to` takes them:
 * `module.a[0].module.b["k"].TYPE.NAME[0]` or `...NAME["key"]`. Data sources cannot be imported.
 */

export type InstanceKey = number | string | null;

export interface ModuleStep {
  readonly name: string;
  readonly key: InstanceKey;
}

export interface ResourceAddress {
  readonly modules: readonly ModuleStep[];
  readonly type: string;
  readonly name: string;
  readonly key: InstanceKey;
}

export const RESOURCE_TYPE_RULE = /^[a-z][a-z0-9]*_[a-z0-9_]+$/;
/** Characters a string instance key may hold here (printable ASCII without `"` and `\`; no `${`/`%{`). */
const KEY_RULE = /^[\x20-\x7e]*$/;
const MAX_LEN = 512;

const refuse = (input: string, why: string): never => {
  throw new AppError('bad_input', `resource address ${JSON.stringify(input)} is refused: ${why}`, {
    details: { field: 'address', rule: why },
  });
};

const GRAMMAR =
  'expected [module.NAME[KEY].]...TYPE.NAME[KEY], e.g. google_compute_instance.web or module.vms["eu"].google_compute_instance.web[0]';

/** Parses and validates an address; throws AppError('bad_input') naming the broken rule. */
export const parseResourceAddress = (input: string): ResourceAddress => {
  if (input.length === 0) refuse(input, 'it is empty');
  if (input.length > MAX_LEN) refuse(input, `at most ${MAX_LEN} characters`);
  let pos = 0;
  const ident = (what: string, rule: RegExp, ruleText: string): string => {
    const m = /^[A-Za-z0-9_-]+/.exec(input.slice(pos));
    const word = m?.[0] ?? '';
    if (!rule.test(word)) {
      const found = word || input.slice(pos, pos + 10) || 'the end';
      return refuse(
        input,
        `${what} must match ${ruleText} (found ${JSON.stringify(found)} at ${pos + 1}); ${GRAMMAR}`,
      );
    }
    pos += word.length;
    return word;
  };
  const dot = (): void => {
    if (input[pos] !== '.') refuse(input, `expected "." at ${pos + 1}; ${GRAMMAR}`);
    pos++;
  };
  const key = (): InstanceKey => {
    if (input[pos] !== '[') return null;
    pos++;
    if (input[pos] === '"') {
      const close = input.indexOf('"', pos + 1);
      if (close < 0) return refuse(input, 'unterminated string key');
      const k = input.slice(pos + 1, close);
      if (!KEY_RULE.test(k) || k.includes('\\') || k.includes('${') || k.includes('%{')) {
        refuse(input, 'a string key may only hold printable ASCII without \\, ", ${ or %{');
      }
      pos = close + 1;
      if (input[pos] !== ']') refuse(input, `expected "]" at ${pos + 1}`);
      pos++;
      return k;
    }
    const m = /^(0|[1-9][0-9]{0,8})\]/.exec(input.slice(pos));
    if (!m) return refuse(input, 'an instance key is [N] (a whole number) or ["key"]');
    pos += m[0].length;
    return Number(m[1]);
  };

  const modules: ModuleStep[] = [];
  for (;;) {
    if (input.startsWith('module.', pos)) {
      pos += 'module.'.length;
      const name = ident('a module name', IDENTIFIER_RULE, '^[A-Za-z_][A-Za-z0-9_-]*$');
      modules.push({ name, key: key() });
      dot();
      continue;
    }
    break;
  }
  if (input.startsWith('data.', pos)) {
    refuse(input, 'data sources cannot be imported: an import block takes a managed resource (TYPE.NAME)');
  }
  const type = ident(
    'a resource type',
    RESOURCE_TYPE_RULE,
    '^[a-z][a-z0-9]*_[a-z0-9_]+$ (provider prefix, e.g. google_)',
  );
  dot();
  const name = ident('a resource name', IDENTIFIER_RULE, '^[A-Za-z_][A-Za-z0-9_-]*$');
  const k = key();
  if (pos !== input.length)
    refuse(input, `unexpected ${JSON.stringify(input.slice(pos))} after the resource; ${GRAMMAR}`);
  return { modules, type, name, key: k };
};

const formatKey = (k: InstanceKey): string =>
  k === null ? '' : typeof k === 'number' ? `[${k}]` : `["${k}"]`;

export const formatResourceAddress = (a: ResourceAddress): string =>
  [
    ...a.modules.map((m) => `module.${m.name}${formatKey(m.key)}`),
    `${a.type}.${a.name}${formatKey(a.key)}`,
  ].join('.');
