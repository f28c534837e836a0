import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { AppError } from '../../core/errors.js';
import { type GuestLineClassifier, RESTART_LINES } from './guest-log.js';
import type { ScanSyslogResult } from './syslog-file.js';
import { buildAnchorRegex } from './syslog-scan-core.js';
import type { GuestEvent, GuestSignal, TimeWindow } from './types.js';

/**
 * `journalctl -o json` exports (also `-o json-seq`, and gzip): the guest log of images without rsyslog (Debian
 * 12 and later ship none, so there is no /var/log/messages to hand over). One JSON object per line:
 * `__REALTIME_TIMESTAMP` (microseconds since the epoch, a string), `MESSAGE` (a string, or an array of bytes
 * when it is not UTF-8), `SYSLOG_IDENTIFIER`, `_PID`, `_TRANSPORT`, `_BOOT_ID`, ... Each record becomes the
 * line syslog would have written (`kernel: Out of memory: ...`, `systemd-logind[612]: System is rebooting.`),
 * so one classifier reads both.
 */

const MAX_TEXT = 500;

/** Leading blanks and json-seq record separators (RS, U+001E). */
const stripSeparators = (text: string): string => text.replaceAll('\u001e', ' ').trimStart();

export type JournalRecord = Readonly<Record<string, unknown>> & {
  readonly __REALTIME_TIMESTAMP: string;
};

/** A journald export record (not a Cloud Logging entry: those carry logName). */
export const isJournalRecord = (value: unknown): value is JournalRecord =>
  value !== null &&
  typeof value === 'object' &&
  !Array.isArray(value) &&
  typeof (value as Record<string, unknown>).__REALTIME_TIMESTAMP === 'string' &&
  'MESSAGE' in value &&
  !('logName' in value);

const textOf = (value: unknown): string | null => {
  if (typeof value === 'string') return value;
  // journald exports a MESSAGE that is not valid UTF-8 as an array of byte values.
  if (Array.isArray(value) && value.every((b) => typeof b === 'number'))
    return Buffer.from(value as number[]).toString('utf8');
  return null;
};

/** A record as the syslog line it stands for, or null without a valid time or message. */
export const journalLineOf = (record: JournalRecord): { at: Date; message: string } | null => {
  const micros = record.__REALTIME_TIMESTAMP;
  if (!/^\d{1,20}$/.test(micros)) return null;
  const at = new Date(Math.floor(Number(micros) / 1000));
  if (Number.isNaN(at.getTime())) return null;
  const message = textOf(record.MESSAGE);
  if (message === null) return null;
  const ident = textOf(record.SYSLOG_IDENTIFIER) ?? (record._TRANSPORT === 'kernel' ? 'kernel' : null);
  const pid = textOf(record._PID);
  const prefix = ident ? `${ident}${pid && ident !== 'kernel' ? `[${pid}]` : ''}: ` : '';
  return { at, message: `${prefix}${message}` };
};

/** True when the file is a journald JSON export rather than a syslog text file (it starts with `{`). */
export const isJournalExport = async (path: string): Promise<boolean> => {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    let bytes: Buffer = head.subarray(0, bytesRead);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
      // Gzip: peek at the first decompressed bytes.
      bytes = await firstGunzippedBytes(path);
    }
    const text = stripSeparators(bytes.toString('utf8'));
    return text.startsWith('{') && text.includes('__REALTIME_TIMESTAMP');
  } catch {
    return false;
  } finally {
    await fh?.close().catch(() => undefined);
  }
};

const firstGunzippedBytes = (path: string): Promise<Buffer> =>
  new Promise((resolve) => {
    const source = createReadStream(path, { start: 0, end: 65_535 });
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      source.destroy();
      gunzip.destroy();
      resolve(Buffer.concat(chunks));
    };
    gunzip.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= 4096) done();
    });
    gunzip.on('end', done);
    gunzip.on('error', done);
    source.pipe(gunzip);
  });

export interface ScanJournalOptions<S extends string> {
  readonly classifier?: GuestLineClassifier<S>;
  readonly window?: TimeWindow;
  /** Keep at most this many events: the most recent ones (default 10,000). */
  readonly maxEvents?: number;
}

/**
 * The classified lines of a journald export, streamed (constant memory; gzip allowed). Lines without one of the
 * classifier's anchors are not parsed at all (the anchors are plain words, which JSON does not escape).
 */
export const scanJournalFile = async <S extends string = GuestSignal>(
  path: string,
  opts: ScanJournalOptions<S> = {},
): Promise<ScanSyslogResult<S>> => {
  const classifier = (opts.classifier ?? RESTART_LINES) as GuestLineClassifier<string>;
  const anchors = buildAnchorRegex(classifier.anchors);
  const maxEvents = opts.maxEvents ?? 10_000;
  const name = basename(path);
  const fromMs = opts.window?.from.getTime() ?? Number.NEGATIVE_INFINITY;
  const toMs = opts.window?.to.getTime() ?? Number.POSITIVE_INFINITY;
  const fh = await open(path, 'r').catch((cause: unknown) => {
    throw new AppError('not_found', `Cannot open the journal export ${name}.`, { cause });
  });
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  const source = createReadStream(path);
  const gzip = magic[0] === 0x1f && magic[1] === 0x8b;
  const input = gzip ? source.pipe(createGunzip()) : source;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let events: GuestEvent<string>[] = [];
  let seen = 0;
  let lineNo = 0;
  let bytes = 0;
  let bad = 0;
  try {
    for await (const raw of lines) {
      lineNo++;
      bytes += raw.length + 1;
      anchors.lastIndex = 0;
      if (!anchors.test(raw.toLowerCase())) continue;
      const text = stripSeparators(raw).replace(/,\s*$/, '');
      if (!text.startsWith('{')) continue;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch {
        bad++;
        continue;
      }
      if (!isJournalRecord(record)) continue;
      const line = journalLineOf(record);
      if (line === null) continue;
      const ms = line.at.getTime();
      if (ms < fromMs || ms > toMs) continue;
      const signal = classifier.classify(line.message);
      if (!signal) continue;
      seen++;
      events.push({
        at: line.at,
        signal,
        text: line.message.length > MAX_TEXT ? `${line.message.slice(0, MAX_TEXT - 1)}…` : line.message,
        source: 'syslog-file',
        ref: `${name}:${lineNo}`,
        timeInferred: false,
      });
      if (events.length >= maxEvents * 2) events = events.slice(events.length - maxEvents);
    }
  } catch (cause) {
    throw new AppError('bad_input', `${name} is not a readable journal export.`, { cause });
  } finally {
    source.destroy();
  }
  if (events.length > maxEvents) events = events.slice(events.length - maxEvents);
  const notes: string[] = [];
  if (seen > events.length) notes.push(`${name}: ${seen} matching records; kept the last ${events.length}.`);
  if (bad > 0) notes.push(`${name}: ${bad} line(s) that are not JSON were skipped.`);
  events.sort((a, b) => a.at.getTime() - b.at.getTime());
  return { events: events as GuestEvent<S>[], linesScanned: lineNo, bytesScanned: bytes, notes };
};
