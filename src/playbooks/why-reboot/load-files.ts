import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { AppError } from '../../core/errors.js';
import { lastSegment, str, toInstanceInfo } from '../../integrations/gce/instance-json.js';
import type { InstanceInfo, LogEntry } from '../../integrations/gce/port.js';
import { type GuestLineClassifier, RESTART_LINES } from './guest-log.js';
import { isJournalRecord, journalLineOf } from './journal.js';
import type { GuestEvent, GuestSignal } from './types.js';

/**
 * Offline evidence: files exported by gcloud or the APIs. Every malformed input becomes an AppError
 * ('bad_input') that names the file and what is wrong, so the CLI can print it and exit 2.
 */

const gunzipAsync = promisify(gunzip);
const MAX_TEXT = 300;

const describeFsError = (err: unknown): string => {
  const code = (err as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
};

/** A file's bytes as text, gunzipped when it starts with the gzip magic bytes. */
export const readTextFile = async (path: string): Promise<string> => {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new AppError('bad_input', `cannot read ${path}: ${describeFsError(err)}`, { cause: err });
  }
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    try {
      data = await gunzipAsync(data);
    } catch (err) {
      throw new AppError('bad_input', `${path}: not a valid gzip file (${describeFsError(err)})`, {
        cause: err,
      });
    }
  }
  if (data.includes(0) && !data.subarray(0, 4096).toString('utf8').trim().startsWith('{')) {
    throw new AppError('bad_input', `${path}: binary data, expected text`);
  }
  return data.toString('utf8');
};

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const parseJsonOrNdjson = (text: string, path: string): unknown[] => {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const value: unknown = JSON.parse(trimmed);
    if (Array.isArray(value)) return value;
    if (isRecord(value)) {
      if ('entries' in value) {
        if (!Array.isArray(value.entries))
          throw new AppError('bad_input', `${path}: "entries" is not an array`);
        return value.entries;
      }
      if ('logName' in value || 'timestamp' in value) return [value];
      // An entries:list response with no entries is `{}` (maybe with a nextPageToken).
      if (Object.keys(value).every((k) => k === 'nextPageToken')) return [];
      throw new AppError(
        'bad_input',
        `${path}: JSON object without "entries": expected a Cloud Logging export (gcloud logging read --format=json, an entries:list response, or NDJSON)`,
      );
    }
    throw new AppError('bad_input', `${path}: expected a JSON array or object of log entries`);
  } catch (err) {
    if (err instanceof AppError) throw err;
    // Not one JSON document: NDJSON, one LogEntry per line.
    const out: unknown[] = [];
    const lines = trimmed.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]?.trim() ?? '';
      if (line === '') continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        const what = i === 0 ? 'not JSON or NDJSON' : `line ${i + 1} is not valid JSON (NDJSON expected)`;
        throw new AppError('bad_input', `${path}: ${what}`);
      }
    }
    return out;
  }
};

const asLogEntry = (value: unknown, index: number, path: string): LogEntry => {
  if (!isRecord(value)) throw new AppError('bad_input', `${path}: entry ${index + 1} is not an object`);
  if (typeof value.timestamp !== 'string' || Number.isNaN(Date.parse(value.timestamp))) {
    throw new AppError('bad_input', `${path}: entry ${index + 1} has no valid "timestamp"`);
  }
  if (typeof value.logName !== 'string') {
    throw new AppError('bad_input', `${path}: entry ${index + 1} has no "logName"`);
  }
  return value as unknown as LogEntry;
};

export interface LoadedLogEntries<S extends string = GuestSignal> {
  readonly auditEntries: LogEntry[];
  readonly guestEvents: GuestEvent<S>[];
  /** Guest log entries read (classified or not). */
  readonly guestEntries: number;
  /** Entries that are neither audit nor guest logs, or guest logs of other instances. */
  readonly skippedEntries: number;
  readonly notes: string[];
}

const isAuditLog = (logName: string): boolean => logName.includes('cloudaudit.googleapis.com');

/** The guest line of a syslog/journald entry: Ops Agent `jsonPayload.message`, journald `MESSAGE`, or text. */
export const guestMessageOf = (entry: LogEntry): string | null => {
  const json = entry.jsonPayload;
  if (json) {
    for (const key of ['message', 'MESSAGE', 'msg']) {
      const v = json[key];
      if (typeof v === 'string') return v;
    }
  }
  return typeof entry.textPayload === 'string' ? entry.textPayload : null;
};

/**
 * Cloud Logging entries from a file: a JSON array (`gcloud logging read --format=json`), an entries:list
 * response, `{source, entries}`, or NDJSON; gzip allowed. Audit entries are returned as they are; guest
 * entries (syslog, journald, any log with a text line) are classified into GuestEvents.
 * With `instanceId`, guest entries of other instances are skipped. Records of a `journalctl -o json` export
 * (no logName; `__REALTIME_TIMESTAMP` and `MESSAGE`) are guest lines too.
 */
export const loadLogEntriesFile = async <S extends string = GuestSignal>(
  path: string,
  opts: { readonly instanceId?: string | null; readonly classifier?: GuestLineClassifier<S> } = {},
): Promise<LoadedLogEntries<S>> => {
  const classifier = opts.classifier ?? (RESTART_LINES as unknown as GuestLineClassifier<S>);
  const values = parseJsonOrNdjson((await readTextFile(path)).replaceAll('\u001e', ''), path);
  const auditEntries: LogEntry[] = [];
  const guestEvents: GuestEvent<S>[] = [];
  let guestEntries = 0;
  let skipped = 0;
  const name = path.split('/').pop() ?? path;
  values.forEach((value, index) => {
    if (isJournalRecord(value)) {
      const line = journalLineOf(value);
      if (line === null) {
        skipped += 1;
        return;
      }
      guestEntries += 1;
      const signal = classifier.classify(line.message);
      if (signal)
        guestEvents.push({
          at: line.at,
          signal,
          text: line.message.length > MAX_TEXT ? `${line.message.slice(0, MAX_TEXT - 3)}...` : line.message,
          source: 'guest-logs',
          ref: `${name}:${index + 1}`,
          timeInferred: false,
        });
      return;
    }
    const entry = asLogEntry(value, index, path);
    if (isAuditLog(entry.logName)) {
      auditEntries.push(entry);
      return;
    }
    const message = guestMessageOf(entry);
    const id = entry.resource?.labels?.instance_id;
    if (message === null || (opts.instanceId && id && id !== opts.instanceId)) {
      skipped += 1;
      return;
    }
    guestEntries += 1;
    const signal = classifier.classify(message);
    if (!signal) return;
    const text = message.trim();
    guestEvents.push({
      at: new Date(entry.timestamp),
      signal,
      text: text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text,
      source: 'guest-logs',
      ref: entry.insertId ?? `${name}:${index + 1}`,
      timeInferred: false,
    });
  });
  const notes: string[] = [];
  if (skipped > 0)
    notes.push(
      `${name}: skipped ${skipped} entr${skipped === 1 ? 'y' : 'ies'} that are neither audit nor guest logs of this VM.`,
    );
  return { auditEntries, guestEvents, guestEntries, skippedEntries: skipped, notes };
};

export interface LoadedSerial {
  readonly contents: string;
  readonly start: number;
}

/** Serial console output: plain text, or the API's SerialPortOutput JSON (`contents`, `start`, `next`). */
export const loadSerialFile = async (path: string): Promise<LoadedSerial> => {
  const text = await readTextFile(path);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      throw new AppError(
        'bad_input',
        `${path}: looks like JSON but does not parse (expected a SerialPortOutput response or plain text)`,
      );
    }
    if (!isRecord(value) || typeof value.contents !== 'string') {
      throw new AppError(
        'bad_input',
        `${path}: JSON without a "contents" string (expected the serialPort API response)`,
      );
    }
    const start = Number(value.start ?? 0);
    return { contents: value.contents, start: Number.isFinite(start) ? start : 0 };
  }
  return { contents: text, start: 0 };
};

/**
 * The instance id as a decimal string. Ids are uint64: the API sends strings, but a hand-made file may hold a
 * JSON number, which JSON.parse rounds, so the digits are taken from the raw text then.
 */
const idOf = (value: unknown, rawText: string): string | null => {
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  if (typeof value === 'number' && Number.isInteger(value)) {
    const digits = [...rawText.matchAll(/"id"\s*:\s*(\d+)/g)].map((m) => m[1] ?? '');
    return digits.find((d) => Number(d) === value) ?? String(value);
  }
  return null;
};

/** instances.get JSON (or `gcloud compute instances describe --format=json`) -> InstanceInfo. */
export const toInstanceInfoFromJson = (
  raw: Record<string, unknown>,
  rawText: string,
  path: string,
): InstanceInfo => {
  const name = str(raw.name);
  if (!name) throw new AppError('bad_input', `${path}: not a Compute Engine instance (no "name")`);
  const selfLink = str(raw.selfLink);
  const zoneUrl = str(raw.zone);
  const project =
    /\/projects\/([^/]+)\//.exec(selfLink ?? '')?.[1] ??
    /\/projects\/([^/]+)\//.exec(zoneUrl ?? '')?.[1] ??
    null;
  const zone = lastSegment(zoneUrl) ?? /\/zones\/([^/]+)\//.exec(selfLink ?? '')?.[1] ?? null;
  if (!project || !zone) {
    throw new AppError(
      'bad_input',
      `${path}: instance "${name}" has no "zone"/"selfLink" URL to tell its project and zone`,
    );
  }
  return { ...toInstanceInfo(raw, { project, zone }), id: idOf(raw.id, rawText) ?? '' };
};

/**
 * An instance from a file: instances.get JSON, or a list (`{items: [...]}` or an array, as `gcloud compute
 * instances list --format=json` writes) from which `name` picks one.
 */
export const loadInstanceFile = async (
  path: string,
  opts: { readonly name?: string } = {},
): Promise<InstanceInfo> => {
  const text = await readTextFile(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError('bad_input', `${path}: not valid JSON (expected an instances.get response)`);
  }
  let candidates: unknown[];
  if (Array.isArray(value)) candidates = value;
  else if (isRecord(value) && Array.isArray(value.items)) candidates = value.items;
  else candidates = [value];
  const objects = candidates.filter(isRecord);
  if (objects.length === 0) throw new AppError('bad_input', `${path}: no instance in the file`);
  let chosen = objects[0];
  if (objects.length > 1 || (opts.name && chosen && str(chosen.name) !== opts.name)) {
    chosen = objects.find((o) => str(o.name) === opts.name);
    if (!chosen) {
      const names = objects.map((o) => str(o.name) ?? '?').join(', ');
      throw new AppError(
        'bad_input',
        `${path}: no instance named "${opts.name ?? ''}" in the file (found: ${names})`,
      );
    }
  }
  if (!chosen) throw new AppError('bad_input', `${path}: no instance in the file`);
  return toInstanceInfoFromJson(chosen, text, path);
};
