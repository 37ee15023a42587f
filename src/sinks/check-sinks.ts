import type { PerchConfig } from '../config/schema.js';
import { checkTlsFiles } from '../grpc/tls-files.js';
import { redactSecrets } from '../util/redact.js';
import { isMessageSink, messageDestination, TemplateError, templateProblems } from './destinations/index.js';
import { otlpDestination } from './destinations/otlp.js';

/**
 * What would keep the sinks from being built or started, found without starting them: user
 * templates and signing secrets (by building each destination as `perch run` does) and the
 * certificate files of a gRPC bridge served over TCP.
 */
export function sinkProblems(sinks: PerchConfig['sinks']): string[] {
  const problems: string[] = [];
  for (const [name, sink] of Object.entries(sinks)) {
    if (isMessageSink(sink)) {
      const config = sink;
      // The template in its destination's markup first: that lists every problem, not the first.
      const markup = config.template === undefined ? [] : templateProblems(config.type, config.template);
      problems.push(...markup.map((p) => `sinks.${name}.template: ${p}`));
      if (markup.length === 0) {
        try {
          messageDestination(config);
        } catch (err) {
          if (err instanceof TemplateError)
            problems.push(...err.problems.map((p) => `sinks.${name}.template: ${p}`));
          else problems.push(`sinks.${name}: ${redactSecrets((err as Error).message)}`);
        }
      }
    }
    if (sink.type === 'otlp') {
      try {
        otlpDestination(sink);
      } catch (err) {
        problems.push(`sinks.${name}: ${redactSecrets((err as Error).message)}`);
      }
    }
    if (sink.type === 'grpc-bridge' && sink.tls && !sink.listen.startsWith('unix:'))
      problems.push(...checkTlsFiles(sink.tls, `sinks.${name}.tls`));
  }
  return problems;
}
