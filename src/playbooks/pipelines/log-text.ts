/**
 * A CI job log, made readable in a few lines: GitLab's collapsible-section markers, ANSI colours and cursor
 * codes, progress-bar carriage returns and GitHub's per-line timestamps and `##[...]` commands removed, then
 * every registered secret scrubbed, and the last `lines` non-empty lines kept.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to remove terminal escapes
const SECTION = /section_(?:start|end):\d+:[A-Za-z0-9_.-]+(?:\[[^\]\r\n]*\])?\r?(?:\u001b\[0K)?/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: CSI sequences (colours, erase line, cursor)
const CSI = /\u001b\[[0-?]*[ -/]*[@-~]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: OSC sequences (hyperlinks, titles)
const OSC = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: any other escape, and control characters but tab
const OTHER = /\u001b[@-Z\\-_]?|[\u0000-\u0008\u000b-\u001f\u007f]/g;
const GITHUB_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ?/;

const cleanLine = (raw: string): string => {
  let line = raw.replace(SECTION, '');
  // A progress bar redraws the line after a carriage return: what is shown is what came last.
  const cr = line.lastIndexOf('\r');
  if (cr >= 0) {
    const after = line.slice(cr + 1);
    line = after.replace(CSI, '').trim() === '' ? line.slice(0, cr) : after;
    line = line.slice(line.lastIndexOf('\r') + 1);
  }
  line = line.replace(OSC, '').replace(CSI, '').replace(OTHER, '');
  line = line.replace(GITHUB_TIMESTAMP, '');
  if (/^##\[(?:endgroup|group)\]/.test(line)) line = line.replace(/^##\[(?:endgroup|group)\]/, '');
  line = line.replace(/^##\[error\]/, 'Error: ').replace(/^##\[warning\]/, 'Warning: ');
  return line.replace(/\s+$/, '');
};

export const cleanLogTail = (
  raw: string,
  options: { readonly lines: number; readonly scrub?: (text: string) => string },
): string[] => {
  if (options.lines <= 0) return [];
  const cleaned = raw.replace(/\r\n/g, '\n').split('\n').map(cleanLine).join('\n');
  const scrubbed = options.scrub ? options.scrub(cleaned) : cleaned;
  const lines = scrubbed.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-options.lines);
};
