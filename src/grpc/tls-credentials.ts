import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { TlsFilesConfig } from '../config/schema.js';

const REFRESH_MS = 60_000;

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

function provider(tls: TlsFilesConfig): grpc.experimental.FileWatcherCertificateProvider {
  // grpc-js re-reads the files on this interval, so rotated certificates apply without a restart.
  return new grpc.experimental.FileWatcherCertificateProvider({
    caCertificateFile: tls.ca,
    certificateFile: tls.cert,
    privateKeyFile: tls.key,
    refreshIntervalMs: REFRESH_MS,
  });
}

/** Credentials for connecting to Falco: none on a unix socket (as Falco serves it), mutual TLS on TCP. */
export function channelCredentials(
  address: string,
  tls: TlsFilesConfig | undefined,
): grpc.ChannelCredentials {
  if (address.startsWith('unix:') || !tls) return grpc.credentials.createInsecure();
  const files = provider(tls);
  return grpc.experimental.createCertificateProviderChannelCredentials(files, files);
}

/** Channel options: Falco's certificate recipe names the server localhost, whatever address it has. */
export function channelOptions(tls: TlsFilesConfig | undefined): grpc.ChannelOptions {
  return tls?.serverName
    ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }
    : {};
}

/** Credentials for serving: insecure on a unix socket, mutual TLS (client certificate required) on TCP. */
export function serverCredentials(address: string, tls: TlsFilesConfig | undefined): grpc.ServerCredentials {
  if (address.startsWith('unix:') || !tls) return grpc.ServerCredentials.createInsecure();
  const files = provider(tls);
  return grpc.experimental.createCertificateProviderServerCredentials(files, files, true);
}
