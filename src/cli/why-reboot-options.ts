/** Its own module: `opsbot diag` parses these flags before it loads anything of /why-reboot's. */
/** The flags of `opsbot why-reboot`, which `opsbot diag` takes too (it adds its own). */
export const WHY_REBOOT_OPTIONS = {
  project: { type: 'string' },
  zone: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  json: { type: 'boolean', default: false },
  logs: { type: 'string', multiple: true },
  syslog: { type: 'string', multiple: true },
  serial: { type: 'string' },
  instance: { type: 'string' },
  year: { type: 'string' },
  tz: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;
