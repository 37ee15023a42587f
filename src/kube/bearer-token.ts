import { readFileSync } from 'node:fs';

/** client-go re-reads a projected service account token at most this often; kubelet rotates it well before expiry. */
const REREAD_INTERVAL_MS = 60_000;

/** The bearer token sent with each request; rotating tokens are re-read from their file. */
export interface BearerToken {
  current(): string;
  /** Reads the token again now (after a 401); true when it changed, so a retry may succeed at once. */
  reread(): boolean;
}

export function fixedToken(token: string): BearerToken {
  return { current: () => token, reread: () => false };
}

/**
 * A token kept in a file that something else rotates (kubelet's projected service account token,
 * a kubeconfig `tokenFile`). A failed re-read keeps the token already held: a file replaced
 * atomically may be missing for an instant, and the old token usually stays valid for a while.
 */
export class TokenFile implements BearerToken {
  private token: string;
  private readAtMs: number;

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {
    this.token = readToken(path);
    this.readAtMs = now();
  }

  current(): string {
    if (this.now() - this.readAtMs >= REREAD_INTERVAL_MS) this.reread();
    return this.token;
  }

  reread(): boolean {
    this.readAtMs = this.now();
    try {
      const token = readToken(this.path);
      const changed = token !== this.token;
      this.token = token;
      return changed;
    } catch {
      return false;
    }
  }
}

function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the token file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const token = text.trim();
  if (!token) throw new Error(`the token file ${path} is empty; expected a bearer token`);
  return token;
}
