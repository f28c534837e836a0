/** Lines with their own terminators, so an edit keeps CRLF vs LF and the final-newline state exactly. */

export interface RawLine {
  readonly text: string;
  readonly eol: '' | '\n' | '\r\n';
}

export const splitRawLines = (content: string): RawLine[] => {
  const lines: RawLine[] = [];
  let start = 0;
  while (start < content.length) {
    const nl = content.indexOf('\n', start);
    if (nl < 0) {
      lines.push({ text: content.slice(start), eol: '' });
      break;
    }
    const crlf = nl > start && content[nl - 1] === '\r';
    lines.push({ text: content.slice(start, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return lines;
};

export const joinRawLines = (lines: readonly RawLine[]): string => lines.map((l) => l.text + l.eol).join('');

/** The terminator most lines use (LF for an empty file or a tie). */
export const dominantEol = (lines: readonly RawLine[]): '\n' | '\r\n' => {
  let crlf = 0;
  let lf = 0;
  for (const l of lines) {
    if (l.eol === '\r\n') crlf++;
    else if (l.eol === '\n') lf++;
  }
  return crlf > lf ? '\r\n' : '\n';
};

/** Appends a line at the end, keeping whether the file ended with a newline. */
export const appendLine = (lines: readonly RawLine[], text: string): RawLine[] => {
  const eol = dominantEol(lines);
  const out = [...lines];
  const last = out[out.length - 1];
  if (last === undefined) return [{ text, eol: '\n' }];
  if (last.eol === '') {
    out[out.length - 1] = { text: last.text, eol };
    out.push({ text, eol: '' });
  } else {
    out.push({ text, eol });
  }
  return out;
};

/** Removes the lines at the given indexes, keeping whether the file ended with a newline. */
export const removeLines = (lines: readonly RawLine[], indexes: ReadonlySet<number>): RawLine[] => {
  const out: RawLine[] = [];
  let droppedFinalWithoutEol = false;
  lines.forEach((l, i) => {
    if (indexes.has(i)) {
      if (i === lines.length - 1 && l.eol === '') droppedFinalWithoutEol = true;
      return;
    }
    out.push(l);
  });
  const last = out[out.length - 1];
  // Keep "no newline at end of file", unless that would make a blank last line vanish.
  if (droppedFinalWithoutEol && last !== undefined && last.text !== '') {
    out[out.length - 1] = { text: last.text, eol: '' };
  }
  return out;
};
