import type { Alert } from '../pipeline/alert.js';
import { alertNamespace as eventNamespace } from '../rules/alert-facts.js';

/**
 * The namespace an alert is about, for the `namespaces` filter of delivering sinks: the pod's
 * (or Falco's k8s.ns.name) for an event, the digest's own (else its sample's), an incident's sample's.
 */
export function alertNamespace(alert: Alert): string | undefined {
  switch (alert.kind) {
    case 'event':
      return eventNamespace(alert);
    case 'digest':
      return alert.namespace ?? eventNamespace(alert.sample);
    case 'incident':
      return eventNamespace(alert.sample);
  }
}
