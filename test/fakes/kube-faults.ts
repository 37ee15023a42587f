// Injected HTTP failures, matched by path prefix or by resource, consumed one request at a time.

import { isResourceRef, type ResourceKey, resolveResource } from './kube-resources.js';
import type { Verb } from './kube-status.js';

export interface FaultOptions {
  /** Only fail requests of this verb (list / watch / get). */
  readonly verb?: Verb;
  /** Replace the default Status message. */
  readonly message?: string;
}

export interface Fault {
  readonly status: number;
  readonly message?: string;
}

interface FaultRule extends FaultOptions {
  readonly pathPrefix?: string;
  readonly resource?: ResourceKey;
  readonly status: number;
  remaining: number;
}

export interface FaultCandidate {
  readonly path: string;
  readonly resource?: ResourceKey | undefined;
  readonly verb?: Verb | undefined;
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  /** `target` is a path prefix when it starts with `/`, otherwise a resource (`'pods'` or `'Pod'`). */
  add(target: string, status: number, count: number, options: FaultOptions = {}): void {
    if (target.startsWith('/')) {
      this.rules.push({ ...options, pathPrefix: target, status, remaining: count });
    } else if (isResourceRef(target)) {
      this.rules.push({ ...options, resource: resolveResource(target).resource, status, remaining: count });
    } else {
      throw new Error(`fake kube api: failNext target must be a path prefix or a resource, got ${target}`);
    }
  }

  /** Returns (and consumes one use of) the first rule matching the request. */
  take(candidate: FaultCandidate): Fault | undefined {
    const rule = this.rules.find(
      (r) =>
        r.remaining > 0 &&
        (r.pathPrefix === undefined || candidate.path.startsWith(r.pathPrefix)) &&
        (r.resource === undefined || r.resource === candidate.resource) &&
        (r.verb === undefined || r.verb === candidate.verb),
    );
    if (!rule) return undefined;
    rule.remaining--;
    this.rules = this.rules.filter((r) => r.remaining > 0);
    return rule.message === undefined
      ? { status: rule.status }
      : { status: rule.status, message: rule.message };
  }

  clear(): void {
    this.rules = [];
  }

  get pending(): number {
    return this.rules.reduce((sum, r) => sum + r.remaining, 0);
  }
}
