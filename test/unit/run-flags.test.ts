import { describe, expect, it } from '@jest/globals';
import { applyRunFlags, RUN_FLAGS, type RunFlagName, runFlagOption } from '../../src/app/run-flags.js';
import { validateConfig } from '../../src/config/load-config.js';

describe('the perch run flags table', () => {
  it('names each flag by the key commander gives its value, so parsing and overrides cannot disagree', () => {
    for (const name of Object.keys(RUN_FLAGS) as RunFlagName[])
      expect(runFlagOption(name).attributeName()).toBe(name);
  });

  it('--grpc and its TLS flags set sources.grpc and replace the default HTTP input without a file', () => {
    const tree: Record<string, unknown> = {};
    applyRunFlags(tree, {
      grpc: 'falco.example:5060',
      grpcCa: '/ca.crt',
      grpcCert: '/client.crt',
      grpcKey: '/client.key',
      grpcServerName: 'localhost',
    });
    const config = validateConfig(tree, 'flags', {});
    expect(config.sources.grpc).toMatchObject({
      enabled: true,
      address: 'falco.example:5060',
      tls: { ca: '/ca.crt', cert: '/client.crt', key: '/client.key', serverName: 'localhost' },
    });
    expect(config.sources.http.enabled).toBe(false);
  });

  it('a TLS flag overrides one file of the TLS settings in perch.yaml and keeps the others', () => {
    const tree: Record<string, unknown> = {
      sources: { grpc: { enabled: true, address: 'falco:5060', tls: { ca: '/a', cert: '/b', key: '/c' } } },
    };
    applyRunFlags(tree, { config: 'perch.yaml', grpcCa: '/rotated-ca.crt' });
    const config = validateConfig(tree, 'flags', {});
    expect(config.sources.grpc.tls).toEqual({ ca: '/rotated-ca.crt', cert: '/b', key: '/c' });
    expect(config.sources.http.enabled).toBe(true);
  });

  it('--pods sets kubernetes.podsFile', () => {
    const tree: Record<string, unknown> = {};
    applyRunFlags(tree, { pods: '/cluster.json' });
    expect(validateConfig(tree, 'flags', {}).kubernetes.podsFile).toBe('/cluster.json');
  });
});
