import { inspect } from 'node:util';

/**
 * A credential from the config (token, webhook URL). Every way of printing it prints a
 * placeholder, so a secret cannot leak through a log line, an error message or a JSON dump.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[secret]';
  }

  toJSON(): string {
    return '[secret]';
  }

  [inspect.custom](): string {
    return 'Secret([secret])';
  }
}
