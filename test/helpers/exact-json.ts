/**
 * A JSON reader for tests that loses nothing JSON says: every integer is a bigint of the digits
 * written (or, written with a fraction or exponent, of its value when that is an integer, since
 * `0.0` and `0` are the same JSON number), and other numbers are numbers. An oracle independent
 * of Perch's own parser, to compare what went in with what came out.
 */
export type ExactJson =
  | null
  | boolean
  | string
  | bigint
  | number
  | ExactJson[]
  | { [key: string]: ExactJson };

export function readExactJson(text: string): ExactJson {
  const reader = new Reader(text);
  const value = reader.value();
  reader.space();
  if (reader.at < text.length) throw new Error(`unexpected text at ${reader.at}`);
  return value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Reader {
  at = 0;
  constructor(private readonly text: string) {}

  space(): void {
    while (/[ \t\n\r]/.test(this.text.charAt(this.at))) this.at++;
  }

  value(): ExactJson {
    this.space();
    const c = this.text.charAt(this.at);
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (!match) throw new Error(`no JSON value at ${this.at}`);
    this.at += match[0].length;
    return exactNumber(match[0]);
  }

  private object(): { [key: string]: ExactJson } {
    // Without a prototype: `__proto__` is a key like any other.
    const result: { [key: string]: ExactJson } = Object.create(null);
    this.at++;
    this.space();
    if (this.text.charAt(this.at) === '}') {
      this.at++;
      return result;
    }
    for (;;) {
      this.space();
      const key = this.string();
      this.space();
      this.expect(':');
      result[key] = this.value();
      this.space();
      if (this.text.charAt(this.at) === '}') {
        this.at++;
        return result;
      }
      this.expect(',');
    }
  }

  private array(): ExactJson[] {
    const result: ExactJson[] = [];
    this.at++;
    this.space();
    if (this.text.charAt(this.at) === ']') {
      this.at++;
      return result;
    }
    for (;;) {
      result.push(this.value());
      this.space();
      if (this.text.charAt(this.at) === ']') {
        this.at++;
        return result;
      }
      this.expect(',');
    }
  }

  private string(): string {
    const start = this.at;
    this.expect('"');
    for (;;) {
      const c = this.text.charAt(this.at);
      if (c === '') throw new Error(`unterminated string at ${start}`);
      this.at += c === '\\' ? 2 : 1;
      if (c === '"') break;
    }
    // The escapes are JSON's, which JSON.parse reads exactly.
    return JSON.parse(this.text.slice(start, this.at)) as string;
  }

  private expect(c: string): void {
    if (this.text.charAt(this.at) !== c) throw new Error(`expected ${c} at ${this.at}`);
    this.at++;
  }
}

function exactNumber(text: string): bigint | number {
  if (/^-?\d+$/.test(text)) return BigInt(text);
  const value = Number(text);
  return Number.isSafeInteger(value) ? BigInt(value) : value;
}
