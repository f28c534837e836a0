import { IntegrationError } from '../../core/errors.js';
import { type ForgeService, forgeName } from './errors.js';

/** Small readers for forge JSON, so a surprising answer fails loudly with a clear message. */

export type Json = Readonly<Record<string, unknown>>;

const unexpected = (service: ForgeService, what: string) =>
  new IntegrationError(service, `${forgeName(service)} sent an unexpected answer (${what})`, {
    code: 'upstream',
    retryable: false,
  });

export const obj = (service: ForgeService, v: unknown, what: string): Json => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw unexpected(service, what);
  return v as Json;
};

export const str = (service: ForgeService, v: unknown, what: string): string => {
  if (typeof v !== 'string') throw unexpected(service, what);
  return v;
};

export const num = (service: ForgeService, v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw unexpected(service, what);
  return v;
};

export const optStr = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export const arr = (service: ForgeService, v: unknown, what: string): readonly unknown[] => {
  if (!Array.isArray(v)) throw unexpected(service, what);
  return v;
};
