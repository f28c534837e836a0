import { inspect } from 'node:util';

/**
 * A forge token as git over HTTPS takes it (basic auth: `oauth2:<token>` for GitLab, `x-access-token:<token>`
 * for GitHub). The value is held in a private field: it does not show in JSON, `util.inspect`, template
 * strings or a logged object, and only `authorizationHeader()` (used to build a git child's environment)
 * reads it.
 */
export class GitCredential {
  readonly #username: string;
  readonly #password: string;

  constructor(username: string, password: string) {
    this.#username = username;
    this.#password = password;
  }

  /** `Authorization: Basic ...` for `http.<url>.extraHeader`. */
  authorizationHeader(): string {
    return `Authorization: Basic ${Buffer.from(`${this.#username}:${this.#password}`).toString('base64')}`;
  }

  /** The raw values, so a caller can register them with the log sanitizer. */
  secretValues(): readonly string[] {
    const b64 = Buffer.from(`${this.#username}:${this.#password}`).toString('base64');
    return [this.#password, b64];
  }

  toJSON(): string {
    return '[git credential]';
  }

  toString(): string {
    return '[git credential]';
  }

  [inspect.custom](): string {
    return '[git credential]';
  }
}
