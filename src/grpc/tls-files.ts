import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsFilesConfig } from '../config/schema.js';

/**
 * Reads each file once so that a wrong path or a file that is not PEM fails at start with the file
 * named, rather than as an opaque handshake error later. Returns the problems found.
 */
export function checkTlsFiles(tls: TlsFilesConfig, keyPath: string): string[] {
  const problems: string[] = [];
  const read = (field: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    try {
      return readFileSync(tls[field]);
    } catch (err) {
      problems.push(
        `${keyPath}.${field}: cannot read ${tls[field]} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
      return undefined;
    }
  };
  for (const field of ['ca', 'cert'] as const) {
    const pem = read(field);
    if (!pem) continue;
    try {
      const cert = new X509Certificate(pem);
      if (Date.parse(cert.validTo) < Date.now())
        problems.push(`${keyPath}.${field}: ${tls[field]} expired on ${cert.validTo}`);
    } catch {
      problems.push(`${keyPath}.${field}: ${tls[field]} is not a PEM certificate`);
    }
  }
  const key = read('key');
  if (key) {
    try {
      createPrivateKey(key);
    } catch {
      problems.push(`${keyPath}.key: ${tls.key} is not a PEM private key`);
    }
  }
  return problems;
}
