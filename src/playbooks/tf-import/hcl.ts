import { AppError } from '../../core/errors.js';

/**
 * HCL quoted strings. A quoted string is a template: besides `\` and `"`, the sequences `${` and `%{`
 * start an interpolation or a directive, and are written literally as `$${` and `%%{`.
 * Newlines and other control characters are refused rather than escaped: an import id never has them,
 * and a multi-line value in a one-line attribute is almost certainly an injection attempt or a paste error.
 */

const isControl = (code: number): boolean =>
  code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029;
const findControl = (value: string): string | null => {
  for (const ch of value) if (isControl(ch.codePointAt(0) ?? 0)) return ch;
  return null;
};

export const assertHclStringValue = (value: string, what = 'value'): string => {
  const bad = findControl(value);
  if (bad !== null) {
    const code = bad.codePointAt(0)?.toString(16).padStart(4, '0') ?? '?';
    throw new AppError(
      'bad_input',
      `${what} ${JSON.stringify(value)} is refused: newlines and control characters (here U+${code}) cannot be written in a one-line HCL string`,
      { details: { field: what } },
    );
  }
  return value;
};

/** `abc"${x}` -> `"abc\"$${x}"`: a quoted HCL string whose value is exactly `value`. */
export const escapeHclString = (value: string, what = 'value'): string => {
  assertHclStringValue(value, what);
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    const next = value[i + 1];
    if (c === '\\') out += '\\\\';
    else if (c === '"') out += '\\"';
    else if (c === '$' && next === '{') {
      out += '$${';
      i++;
    } else if (c === '%' && next === '{') {
      out += '%%{';
      i++;
    } else out += c;
  }
  return `${out}"`;
};

/**
 * Decodes the inside of a quoted HCL string (between the quotes). Returns null when the string is a real
 * template (has an interpolation or directive) or has an invalid escape: its value is not a constant.
 */
export const decodeHclString = (inner: string): string | null => {
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i] as string;
    if (c === '\\') {
      const e = inner[i + 1];
      i++;
      if (e === 'n') out += '\n';
      else if (e === 'r') out += '\r';
      else if (e === 't') out += '\t';
      else if (e === '"' || e === '\\') out += e;
      else if (e === 'u' || e === 'U') {
        const len = e === 'u' ? 4 : 8;
        const hex = inner.slice(i + 1, i + 1 + len);
        if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(hex)) return null;
        out += String.fromCodePoint(Number.parseInt(hex, 16));
        i += len;
      } else return null;
    } else if ((c === '$' || c === '%') && inner[i + 1] === c && inner[i + 2] === '{') {
      out += `${c}{`;
      i += 2;
    } else if ((c === '$' || c === '%') && inner[i + 1] === '{') {
      return null;
    } else out += c;
  }
  return out;
};

export const IDENTIFIER_RULE = /^[A-Za-z_][A-Za-z0-9_-]*$/;
