import type { Readable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { FileSource } from './file-source.js';
import { GrpcSource } from './grpc-source.js';
import { HttpSource } from './http-source.js';
import type { Source } from './source.js';
import { StdinSource } from './stdin-source.js';

export function createSources(
  config: PerchConfig,
  stdin: Readable,
  metrics: PerchMetrics,
  log: Logger,
): Source[] {
  const sources: Source[] = [];
  if (config.sources.http.enabled) sources.push(new HttpSource(config.sources.http, metrics, log));
  if (config.sources.grpc.enabled) sources.push(new GrpcSource(config.sources.grpc, metrics, log));
  for (const file of config.sources.files) sources.push(new FileSource(file, metrics, log));
  if (config.sources.stdin.enabled) sources.push(new StdinSource(stdin, metrics, log));
  return sources;
}
