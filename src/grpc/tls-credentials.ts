import * as grpc from '@grpc/grpc-js';
import type { TlsFilesConfig } from '../config/schema.js';

const REFRESH_MS = 60_000;

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
