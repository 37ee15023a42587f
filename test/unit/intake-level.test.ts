import { describe, expect, it } from '@jest/globals';
import { IntakeLevel } from '../../src/pipeline/intake-level.js';

describe('intake level: when a batch sender may go on', () => {
  it('lets a batch in at once while the buffer is at most half full, and holds it beyond', () => {
    let held = 50;
    const level = new IntakeLevel(100, () => held);
    expect(level.whenRoom()).toBeUndefined();
    held = 51;
    expect(level.whenRoom()).toBeInstanceOf(Promise);
  });

  it('lets held senders go one per event that leaves, in the order they came, only at half full or below', async () => {
    let held = 80;
    const level = new IntakeLevel(100, () => held);
    const gone: string[] = [];
    const first = level.whenRoom()?.then(() => gone.push('first'));
    const second = level.whenRoom()?.then(() => gone.push('second'));
    held = 51;
    level.left();
    await Promise.resolve();
    expect(gone).toEqual([]);
    held = 50;
    // Someone is already waiting: a newcomer queues behind, even with room.
    const third = level.whenRoom()?.then(() => gone.push('third'));
    expect(third).toBeDefined();
    level.left();
    await first;
    expect(gone).toEqual(['first']);
    level.left();
    level.left();
    await Promise.all([second, third]);
    expect(gone).toEqual(['first', 'second', 'third']);
    expect(level.whenRoom()).toBeUndefined();
  });
});
