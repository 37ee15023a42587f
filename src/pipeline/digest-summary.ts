import { priorityName } from '../events/priority.js';
import { workloadRef } from '../rules/alert-facts.js';
import type { DigestAlert } from './alert.js';

/* How a digest reads, the same in the console, chat and Alertmanager. */

/** `2026-01-01 09:15:02` → `09:15:02`; the date is shown only when it differs from `sameDayAs`. */
function clock(ms: number, sameDayAs?: number): string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return String(ms);
  const iso = date.toISOString();
  if (sameDayAs !== undefined) {
    const other = new Date(sameDayAs);
    if (!Number.isNaN(other.getTime()) && other.toISOString().slice(0, 10) !== iso.slice(0, 10)) {
      return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
    }
  }
  return iso.slice(11, 19);
}

/** 300000 → `5m`, 90000 → `1m30s`, 5400000 → `1h30m`, 1500 → `1.5s`, 250 → `250ms`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000 && ms % 1000 !== 0) return `${Math.round(ms / 100) / 10}s`;
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const parts = [
    hours > 0 ? `${hours}h` : '',
    minutes > 0 ? `${minutes}m` : '',
    seconds > 0 ? `${seconds}s` : '',
  ];
  return parts.join('');
}

/**
 * One line for a digest, e.g. `Terminal shell in container ×57 more in 5m across 3 pods of
 * deployment/payments (first seen 09:15:02, last 09:19:58 UTC)`. "×N more" because `count` is the
 * repeats collapsed; the first occurrence was already delivered on its own. "in 5m" is the window;
 * times are UTC so every node and sink says the same. Escalations, also delivered on their own,
 * follow the times.
 */
export function digestSummary(d: DigestAlert): string {
  let where = '';
  const workload = d.workload;
  if (d.podCount > 1) {
    where = ` across ${d.podCount} pods`;
    if (workload) where += ` of ${workloadRef(workload)}`;
    else if (d.namespace !== undefined) where += ` in namespace ${d.namespace}`;
  } else if (d.podCount === 1) {
    const pod = d.pods[0];
    where = pod === undefined ? ' in 1 pod' : ` in pod ${pod}`;
    // A bare pod's workload is the pod itself: naming it twice says nothing.
    if (workload && workload.kind !== 'Pod' && workload.kind !== 'StaticPod') {
      where += ` of ${workloadRef(workload)}`;
    }
  } else if (workload) {
    where = ` in ${workloadRef(workload)}`;
  } else if (d.namespace !== undefined) {
    where = ` in namespace ${d.namespace}`;
  }
  const times = `(first seen ${clock(d.firstSeenMs)}, last ${clock(d.lastSeenMs, d.firstSeenMs)} UTC)`;
  return `${d.rule} ×${d.count} more in ${formatDuration(d.windowMs)}${where} ${times}${escalated(d)}`;
}

/**
 * `; escalated to Emergency at 09:15:03 UTC (sent at once)`, or for several `; escalated to
 * Warning at 09:15:03, Critical at 09:15:04 UTC (each sent at once)`; empty without escalations.
 */
function escalated(d: DigestAlert): string {
  const escalations = d.escalations ?? [];
  if (escalations.length === 0) return '';
  const steps = escalations
    .map((e) => `${priorityName(e.priority)} at ${clock(e.atMs, d.firstSeenMs)}`)
    .join(', ');
  return `; escalated to ${steps} UTC (${escalations.length === 1 ? 'sent' : 'each sent'} at once)`;
}
