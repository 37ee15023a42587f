// The webhook receiver of the delivery and crash tests goes down and comes back on the same port.
// Its port must stay its own meanwhile: a Perch started during the outage on port 0 and given that
// port would answer the deliveries meant for the receiver with 404, and a sink drops what is rejected.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { ephemeralRange } from '../fakes/restartable-server.js';

let receiver: HttpReceiver;

beforeAll(async () => {
  receiver = await HttpReceiver.start();
});

afterAll(async () => {
  await receiver.stop();
});

describe('HttpReceiver: down and up again', () => {
  it('takes a port the kernel never hands to a listen on port 0', () => {
    const range = ephemeralRange();
    if (!range) return; // not Linux: the kernel's range cannot be read, and port 0 is used
    expect(receiver.port).toBeLessThan(range.low);
  });

  it('refuses connections while down and comes back on the same port', async () => {
    const port = receiver.port;
    await receiver.down();
    await expect(fetch(`${receiver.url}/hook`, { method: 'POST', body: 'x' })).rejects.toThrow();
    await receiver.up();
    expect(receiver.port).toBe(port);
    const res = await fetch(`${receiver.url}/hook`, { method: 'POST', body: 'back' });
    expect(res.status).toBe(200);
    expect(receiver.accepted()).toEqual(['back']);
  });
});
