/** The part of the WHATWG Headers a destination reads an answer with. */
export interface HeaderReader {
  get(name: string): string | null;
}

type RawHeaders = Record<string, string | string[] | undefined>;

/**
 * undici's response headers (names already lower-cased) read like WHATWG Headers, without copying
 * them into one: most answers are read for their status alone.
 */
export class ResponseHeaders implements HeaderReader {
  constructor(private readonly raw: RawHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}
