import { describe, expect, it } from '@jest/globals';
import { IntakeLevel } from '../../src/pipeline/intake-level.js';

describe('intake level: when a batch sender may go on', () => {
  it('lets a batch in at once while the buffer is at most half full, and holds it beyond', () => {
    let held = 50;
    const level = new IntakeLevel(100, () => held);
    const go = () => undefined;
    expect(level.whenRoom(go)).toBeUndefined();
    held = 51;
    expect(level.whenRoom(go)).toBeInstanceOf(Function);
  });

  it('lets held senders go one per event that leaves, in the order they came, only at half full or below', () => {
    let held = 80;
    const level = new IntakeLevel(100, () => held);
    const gone: string[] = [];
    level.whenRoom(() => gone.push('first'));
    level.whenRoom(() => gone.push('second'));
    held = 51;
    level.left();
    expect(gone).toEqual([]);
    held = 50;
    // Someone is already waiting: a newcomer queues behind, even with room.
    expect(level.whenRoom(() => gone.push('third'))).toBeDefined();
    level.left();
    expect(gone).toEqual(['first']);
    level.left();
    level.left();
    expect(gone).toEqual(['first', 'second', 'third']);
    expect(level.whenRoom(() => gone.push('fourth'))).toBeUndefined();
    level.left();
    expect(gone).toEqual(['first', 'second', 'third']);
  });

  it('gives the next release to a sender still waiting when one ahead of it stopped waiting', () => {
    let held = 80;
    const level = new IntakeLevel(100, () => held);
    const gone: string[] = [];
    const leaveFirst = level.whenRoom(() => gone.push('first'));
    level.whenRoom(() => gone.push('second'));
    // The first sender's longest hold ran out: it went on by itself and leaves the line.
    leaveFirst?.();
    held = 50;
    level.left();
    expect(gone).toEqual(['second']);
    // The line is empty again: a newcomer with room goes at once.
    expect(level.whenRoom(() => gone.push('third'))).toBeUndefined();
  });
});
