import { describe, expect, it } from 'vitest';
import { newAuditId } from '../../src/store/audit-repository.js';

describe('audit row ids', () => {
  it('are RFC 9562 version 7 UUIDs carrying the row time, so later rows sort after earlier ones', () => {
    const t = Date.parse('2026-03-01T12:00:00.000Z');
    const a = newAuditId(t);
    const b = newAuditId(t + 1);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(a.replace(/-/g, '').slice(0, 12), 16)).toBe(t);
    expect(a < b).toBe(true);
  });

  it('never repeat, even for rows of the same millisecond (random bits are not reused across blocks)', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(newAuditId(1_700_000_000_000));
    expect(ids.size).toBe(20_000);
  });
});
