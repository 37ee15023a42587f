import { describe, expect, it } from '@jest/globals';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { SettleLedger, type Settlement } from '../../src/hub/settle-ledger.js';
import { TakenIds } from '../../src/hub/taken-ids.js';
import type { EventAlert } from '../../src/pipeline/alert.js';
import { alertFromEvent } from '../../src/pipeline/alert.js';

function event(n: number): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      time: `2026-01-01T00:00:0${n}.000000000Z`,
      priority: 'Warning',
      rule: 'Terminal shell in container',
      output: `shell ${n}`,
    }),
  );
}

function alertOf(e: FalcoEvent): EventAlert {
  return alertFromEvent({ event: e, enrichment: { outcome: 'disabled' } }, 0);
}

/** The state of a promise after pending callbacks ran: its value, or 'pending'. */
async function state(promise: Promise<Settlement>): Promise<Settlement | 'pending'> {
  const marker = Symbol('pending');
  const result = await Promise.race([promise, new Promise<symbol>((r) => setTimeout(() => r(marker), 5))]);
  return result === marker ? 'pending' : (result as Settlement);
}

function ledger(): SettleLedger {
  return new SettleLedger(new TakenIds(100, 60_000));
}

describe('hub acknowledgement (settle ledger)', () => {
  it('answers taken only after the pipeline and every delivering sink that took the alert are done', async () => {
    const l = ledger();
    const e = event(1);
    const admission = l.admit('id-1', e);
    if (admission.kind !== 'new') throw new Error('expected a new admission');
    // the pipeline routes it, then two sinks take it in the same run
    l.pipelineSettled(e);
    const slack = l.hold(alertOf(e));
    const webhook = l.hold(alertOf(e));
    expect(await state(admission.settled)).toBe('pending');
    slack?.(true);
    expect(await state(admission.settled)).toBe('pending');
    webhook?.(true);
    expect(await state(admission.settled)).toBe('taken');
    expect(l.admit('id-1', event(1)).kind).toBe('duplicate');
    expect(l.inFlight).toBe(0);
  });

  it('answers taken at once for what the pipeline folded, silenced or dropped (no sink holds it)', async () => {
    const l = ledger();
    const e = event(2);
    const admission = l.admit('id-2', e);
    if (admission.kind !== 'new') throw new Error('expected a new admission');
    l.pipelineSettled(e);
    expect(await state(admission.settled)).toBe('taken');
  });

  it('lets a copy sent again while the first is pending join it instead of entering the pipeline twice', async () => {
    const l = ledger();
    const e = event(3);
    const first = l.admit('id-3', e);
    const second = l.admit('id-3', event(3));
    expect(second.kind).toBe('joined');
    if (first.kind !== 'new' || second.kind !== 'joined') throw new Error('unexpected admissions');
    l.pipelineSettled(e);
    const sink = l.hold(alertOf(e));
    expect(await state(second.settled)).toBe('pending');
    sink?.(true);
    expect(await state(second.settled)).toBe('taken');
  });

  it('answers not taken (the agent sends it again) when a sink dropped it unsent, and does not remember the id', async () => {
    const l = ledger();
    const e = event(4);
    const admission = l.admit('id-4', e);
    if (admission.kind !== 'new') throw new Error('expected a new admission');
    l.pipelineSettled(e);
    l.hold(alertOf(e))?.(false);
    expect(await state(admission.settled)).toBe('not_taken');
    expect(l.admit('id-4', event(4)).kind).toBe('new');
  });

  it('answers everything pending not taken when the hub steps down or shuts down', async () => {
    const l = ledger();
    const e = event(5);
    const admission = l.admit('id-5', e);
    if (admission.kind !== 'new') throw new Error('expected a new admission');
    l.pipelineSettled(e);
    const sink = l.hold(alertOf(e));
    l.abandonAll();
    expect(await state(admission.settled)).toBe('not_taken');
    sink?.(true); // a late delivery changes nothing
    expect(l.inFlight).toBe(0);
  });
});
