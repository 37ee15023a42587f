import { describe, expect, it } from '@jest/globals';
import { EventFeed, fanOut } from '../../src/util/event-feed.js';
import { from, map, merge, type Observable, Subject, type Subscription } from '../../src/util/rx.js';

/** What an observer heard, in order. */
function record<T>(events$: Observable<T>): { heard: string[]; subscription: Subscription } {
  const heard: string[] = [];
  const subscription = events$.subscribe({
    next: (v) => heard.push(`next ${String(v)}`),
    error: (e: unknown) => heard.push(`error ${String(e)}`),
    complete: () => heard.push('complete'),
  });
  return { heard, subscription };
}

describe('EventFeed: what a source hands its events to', () => {
  it('hands each event to every subscriber, in the order they subscribed', () => {
    const feed = new EventFeed<number>();
    const order: string[] = [];
    feed.events$.subscribe((v) => order.push(`a${v}`));
    feed.events$.subscribe((v) => order.push(`b${v}`));
    feed.next(1);
    feed.next(2);
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2']);
  });

  it('keeps nothing for a subscriber that comes later, as a Subject does', () => {
    const feed = new EventFeed<number>();
    feed.next(1);
    const late = record(feed.events$);
    feed.next(2);
    expect(late.heard).toEqual(['next 2']);
  });

  it('meets subscribers that leave or join during an event as an RxJS Subject does', () => {
    // The same script against both: a leaver hears nothing more at once, a joiner from the next event.
    const transcript = (feed: { events$: Observable<number>; next(v: number): void }) => {
      const heard: string[] = [];
      let second: Subscription | undefined;
      feed.events$.subscribe((v) => {
        heard.push(`first ${v}`);
        if (v === 1) {
          second?.unsubscribe();
          feed.events$.subscribe((w) => heard.push(`third ${w}`));
        }
      });
      second = feed.events$.subscribe((v) => heard.push(`second ${v}`));
      feed.next(1);
      feed.next(2);
      return heard;
    };
    const subject = new Subject<number>();
    const expected = transcript({ events$: subject, next: (v) => subject.next(v) });
    expect(expected).toEqual(['first 1', 'first 2', 'third 2']);
    expect(transcript(new EventFeed<number>())).toEqual(expected);
  });

  it('ends every subscriber once, and a subscriber that comes after the end hears it at once', () => {
    const feed = new EventFeed<number>();
    const early = record(feed.events$);
    feed.next(1);
    feed.complete();
    feed.next(2);
    feed.complete();
    feed.error(new Error('too late'));
    expect(early.heard).toEqual(['next 1', 'complete']);
    expect(record(feed.events$).heard).toEqual(['complete']);

    const failing = new EventFeed<number>();
    const before = record(failing.events$);
    failing.error('broken');
    expect(before.heard).toEqual(['error broken']);
    expect(record(failing.events$).heard).toEqual(['error broken']);
  });

  it('an unsubscribed observer hears nothing more', () => {
    const feed = new EventFeed<number>();
    const { heard, subscription } = record(feed.events$);
    feed.next(1);
    subscription.unsubscribe();
    feed.next(2);
    feed.complete();
    expect(heard).toEqual(['next 1']);
  });
});

describe('fanOut: one source, several branches', () => {
  it('gives every branch every value, in the order the branches subscribed, then completes once', () => {
    const out = record(
      from([1, 2, 3]).pipe(
        fanOut((shared) =>
          merge(shared.pipe(map((v) => `dedup ${v}`)), shared.pipe(map((v) => `correlate ${v}`))),
        ),
      ),
    );
    expect(out.heard).toEqual([
      'next dedup 1',
      'next correlate 1',
      'next dedup 2',
      'next correlate 2',
      'next dedup 3',
      'next correlate 3',
      'complete',
    ]);
  });

  it('passes the source error on, and leaves the source when unsubscribed', () => {
    const source = new Subject<number>();
    const out = record(source.pipe(fanOut((shared) => merge(shared, shared))));
    source.next(1);
    source.error('gone');
    expect(out.heard).toEqual(['next 1', 'next 1', 'error gone']);

    const live = new Subject<number>();
    const left = record(live.pipe(fanOut((shared) => shared)));
    expect(live.observed).toBe(true);
    left.subscription.unsubscribe();
    expect(live.observed).toBe(false);
  });
});
