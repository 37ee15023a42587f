import { describe, expect, it } from '@jest/globals';
import { rememberEach, rememberLast } from '../../src/util/remember-answers.js';

describe('remembered answers', () => {
  it('rememberLast works an answer out again for every other object, never hands one object another’s', () => {
    const asked: string[] = [];
    const upper = rememberLast((o: { name: string }) => {
      asked.push(o.name);
      return o.name.toUpperCase();
    });
    const a = { name: 'a' };
    const b = { name: 'b' };
    expect([upper(a), upper(a), upper(b), upper(a), upper(b), upper(b)]).toEqual([
      'A',
      'A',
      'B',
      'A',
      'B',
      'B',
    ]);
    expect(asked).toEqual(['a', 'b', 'a', 'b']);
  });

  it('rememberEach works each object’s answer out once, false and empty answers included', () => {
    const asked: string[] = [];
    const empty = rememberEach((o: { name: string }) => {
      asked.push(o.name);
      return o.name === '' ? '' : o.name.length > 1;
    });
    const a = { name: 'a' };
    const ab = { name: 'ab' };
    const none = { name: '' };
    expect([empty(a), empty(ab), empty(none), empty(a), empty(ab), empty(none)]).toEqual([
      false,
      true,
      '',
      false,
      true,
      '',
    ]);
    expect(asked).toEqual(['a', 'ab', '']);
  });
});
