import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { engines } from './harness.js';

const postgres = engines().find((e) => e.engine === 'postgres');

/**
 * One PostgreSQL database shared with other applications (or other opsbot schemas): their schemas come and
 * go while opsbot starts. Opening the store introspects only its own schema, so a neighbour's `drop schema`
 * in the middle of that never fails the start with "schema ... does not exist" (it did: Kysely's
 * introspector called name-based catalog functions on every schema in the database).
 */
describe.skipIf(!postgres)('PostgreSQL store next to schemas being dropped', () => {
  it('opens and migrates while other schemas in the database are created and dropped', async () => {
    if (!postgres) return;
    const url = process.env.DATABASE_URL as string;
    const churn = new pg.Client({ connectionString: url });
    await churn.connect();
    let stop = false;
    let churned = 0;
    const churning = (async () => {
      while (!stop) {
        const s = `n_${randomBytes(6).toString('hex')}`;
        await churn.query(`create schema ${s}`);
        await churn.query(
          `create table ${s}.a (id serial primary key, note text); create table ${s}.b (id int, x text)`,
        );
        await churn.query(`drop schema ${s} cascade`);
        churned++;
      }
    })();
    const failures: string[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const target = await postgres.create();
        try {
          const store = await target.open();
          await store.close();
        } catch (err) {
          failures.push(String(err instanceof Error ? (err.cause ?? err) : err));
        } finally {
          await target.dispose();
        }
      }
    } finally {
      stop = true;
      await churning.catch(() => undefined);
      await churn.end();
    }
    expect(churned).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });
});
