import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config/config-error.js';
import { validateConfig } from '../../src/config/load-config.js';

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw, 'perch.yaml', {});
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
}

const tls = { ca: '/etc/perch/ca.crt', cert: '/etc/perch/server.crt', key: '/etc/perch/server.key' };

describe('the gRPC bridge tls settings', () => {
  it('take the server certificate, its key and the CA of the clients', () => {
    expect(problems({ sinks: { bridge: { type: 'grpc-bridge', listen: '127.0.0.1:5060', tls } } })).toEqual(
      [],
    );
  });

  it('refuse serverName, which only a client checks, instead of ignoring it', () => {
    const bridge = {
      type: 'grpc-bridge',
      listen: '127.0.0.1:5060',
      tls: { ...tls, serverName: 'localhost' },
    };
    expect(problems({ sinks: { bridge } })).toEqual([
      expect.stringMatching(/^sinks\.bridge\.tls: unknown key "serverName"/),
    ]);
  });

  it('while the gRPC input, a client, keeps it', () => {
    const grpc = { enabled: true, address: 'falco:5060', tls: { ...tls, serverName: 'localhost' } };
    expect(problems({ sources: { grpc } })).toEqual([]);
  });
});
