import { timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries `Bearer <token>`, compared in constant time so that the
 * time of a refusal says nothing about how much of a guess was right.
 */
export function bearerTokenMatches(authorization: string | undefined, token: string): boolean {
  const header = authorization ?? '';
  const presented = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
