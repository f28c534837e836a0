import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildConfigJsonSchema, COMMAND_NAMES, loadConfig } from '../../src/core/config.js';

describe('shipped config files', () => {
  it('the annotated example config is valid', () => {
    const cfg = loadConfig({}, 'config/opsbot.example.yaml');
    expect(cfg.targets.versionlock.map((t) => t.name)).toContain('el7-prod');
    expect(cfg.access.commands.versionlock?.groups).toEqual(['S0123SRE']);
  });

  it('the shipped JSON Schema is the one generated from the config definition (run `npm run schema`)', () => {
    const shipped = JSON.parse(readFileSync('config/opsbot.schema.json', 'utf8'));
    expect(shipped).toEqual(JSON.parse(JSON.stringify(buildConfigJsonSchema())));
  });

  it('the Slack manifest declares every command opsbot handles, interactivity and minimal scopes', () => {
    const manifest = parse(readFileSync('config/slack-manifest.yaml', 'utf8'));
    const commands = manifest.features.slash_commands.map((c: { command: string }) => c.command).sort();
    expect(commands).toEqual(COMMAND_NAMES.map((c) => `/${c}`).sort());
    expect(commands).toContain('/diag');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    const scopes: string[] = manifest.oauth_config.scopes.bot;
    // files:write: /diag uploads its chart to the thread.
    expect(scopes).toEqual(expect.arrayContaining(['commands', 'chat:write', 'files:write']));
    expect(scopes.some((s) => s.includes('admin'))).toBe(false);
  });
});
