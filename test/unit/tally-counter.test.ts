import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { TallyCounter } from '../../src/metrics/tally-counter.js';

async function series(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  return Object.fromEntries(values.map((v) => [Object.values(v.labels).join('/'), v.value]));
}

function oneLabelCounter() {
  const registry = new Registry();
  const counter = new TallyCounter({ name: 'c_total', help: 'h', labelNames: ['a'], registers: [registry] });
  return { registry, counter };
}

describe('TallyCounter', () => {
  it('hands every count to prom-client when it collects, however many scrapes come between', async () => {
    const { registry, counter } = oneLabelCounter();
    for (let i = 0; i < 5; i++) if (!counter.incKnown('x')) counter.incNew('x', { a: 'x' });
    counter.incNew('y', { a: 'y' }, 2);
    expect(await series(registry, 'c_total')).toEqual({ x: 5, y: 2 });
    expect(counter.incKnown('x', 10)).toBe(true);
    expect(await series(registry, 'c_total')).toEqual({ x: 15, y: 2 });
    expect(await series(registry, 'c_total')).toEqual({ x: 15, y: 2 });
    expect(await registry.metrics()).toContain('c_total{a="x"} 15');
  });

  it('shows a series Perch named at zero before its first count, and counts through the held tally', async () => {
    const { registry, counter } = oneLabelCounter();
    const tally = counter.tally('k', { a: 'k' });
    expect(await series(registry, 'c_total')).toEqual({ k: 0 });
    tally.pending += 3;
    expect(counter.tally('k', { a: 'k' })).toBe(tally);
    expect(await series(registry, 'c_total')).toEqual({ k: 3 });
  });

  it('folds series past the cap into _overflow, counts them, and does not remember them', async () => {
    const registry = new Registry();
    let folds = 0;
    const counter = new TallyCounter(
      { name: 'c_total', help: 'h', labelNames: ['rule', 'priority'], registers: [registry] },
      { maxSeries: 2, keep: new Set(['priority']), onOverflow: () => (folds += 1) },
    );
    const count = (rule: string) => {
      const key = `${rule}/Warning`;
      if (!counter.incKnown(key)) counter.incNew(key, { rule, priority: 'Warning' });
    };
    for (const rule of ['a', 'b', 'c', 'd', 'c', 'a']) count(rule);
    expect(await series(registry, 'c_total')).toEqual({
      'a/Warning': 2,
      'b/Warning': 1,
      '_overflow/Warning': 3,
    });
    expect(folds).toBe(3);
    // Not remembered: a folded key is asked about again each time, never admitted later.
    expect(counter.incKnown('c/Warning')).toBe(false);
  });
});
