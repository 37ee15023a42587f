// The load generator (pinned to CPU 1 by bench/run.js): Falco's http_output as raw keep-alive HTTP/1.1
// connections, each posting one alert at a time and waiting for the answer (curl_easy_perform is
// synchronous), and Falco 0.43's gRPC output server for `sub`. Kept lean so that it is never the
// bottleneck: requests and responses are prebuilt bytes.

import { mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { toGrpcResponse } from '../dist/events/grpc-response.js';
import { parseFalcoJson } from '../dist/events/parse-falco-json.js';
import { loadFalcoProto } from '../dist/grpc/falco-proto.js';
import { alertJson } from './fixtures.js';
import { serve } from './ipc.js';
import { WebhookReceiver } from './webhook-receiver.js';

const POOL = 2048;
const CRLF2 = Buffer.from('\r\n\r\n');

function request(port, body, extraHeaders = '') {
  const bytes = Buffer.from(body);
  return Buffer.concat([
    Buffer.from(
      `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: falco-bench\r\nAccept: */*\r\n` +
        `Content-Type: application/json\r\n${extraHeaders}Content-Length: ${bytes.length}\r\n\r\n`,
    ),
    bytes,
  ]);
}

/** One keep-alive connection that sends a request only after the previous answer (Falco's http_output). */
class SerialConnection {
  constructor(port, onResponse) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.setNoDelay(true);
    this.buffer = Buffer.alloc(0);
    this.busy = false;
    this.onResponse = onResponse;
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.socket.on('data', (chunk) => this.data(chunk));
  }

  send(bytes) {
    this.busy = true;
    this.socket.write(bytes);
  }

  data(chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf(CRLF2);
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString('latin1');
      const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const length = match ? Number(match[1]) : 0;
      const total = end + 4 + length;
      if (this.buffer.length < total) return;
      const status = Number(head.slice(9, 12));
      this.buffer = this.buffer.subarray(total);
      this.busy = false;
      this.onResponse(this, status);
    }
  }

  close() {
    this.socket.end();
    this.socket.destroy();
  }
}

async function openConnections(port, count, onResponse) {
  const connections = Array.from({ length: count }, () => new SerialConnection(port, onResponse));
  await Promise.all(connections.map((c) => c.ready));
  return connections;
}

const httpPools = new Map();

/** As fast as `connections` serial posters can go, for `durationMs`. */
async function httpSaturate({ port, connections = 8, durationMs }) {
  if (!httpPools.has(port))
    httpPools.set(
      port,
      Array.from({ length: POOL }, (_, n) => request(port, alertJson(n))),
    );
  const httpPool = httpPools.get(port);
  let next = 0;
  let sent = 0;
  let ok = 0;
  let errors = 0;
  let stopAt = Number.POSITIVE_INFINITY;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const sendOn = (c) => {
    c.send(httpPool[next]);
    next = (next + 1) % POOL;
    sent += 1;
  };
  const conns = await openConnections(port, connections, (c, status) => {
    if (status === 200) ok += 1;
    else errors += 1;
    if (Date.now() < stopAt) sendOn(c);
    else if (conns.every((x) => !x.busy)) finish();
  });
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  stopAt = t0 + durationMs;
  for (const c of conns) sendOn(c);
  await done;
  const tEnd = Date.now();
  const cpu = process.cpuUsage(cpu0);
  for (const c of conns) c.close();
  return { t0, tEnd, sent, ok, errors, loadCpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * A fixed rate for `durationMs`: due alerts go out on whichever of `connections` is idle (a serial
 * poster that falls behind queues in the client, as Falco's outputs queue would). Each alert
 * carries `seq = phase × 10^7 + i` in an X-Bench-Seq header and in its output (and as proc.pid, so
 * each one is its own dedup key), and the time it is sent as its event time; the agent times receipt
 * → routed by it. With the webhook receiver started, each post time is recorded for it to time
 * receipt → delivered.
 */
async function httpRate({ port, rate, durationMs, phase, connections = 4 }) {
  let issued = 0;
  let ok = 0;
  let errors = 0;
  let queuedMax = 0;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const total = Math.round((rate * durationMs) / 1000);
  let due = 0;
  const dispatch = () => {
    for (const c of conns) {
      if (issued >= due) break;
      if (c.busy) continue;
      const seq = phase * 10_000_000 + issued;
      issued += 1;
      // Stamped with the time it is sent, as Falco stamps an event: a later phase is later by as much
      // as the clock moved, so correlation windows and quiet periods run as they do on a node.
      const timeNs = BigInt(Date.now()) * 1_000_000n;
      const bytes = request(port, alertJson(seq, { seq, pid: seq, timeNs }), `X-Bench-Seq: ${seq}\r\n`);
      receiver?.postedAt.set(seq, performance.now());
      c.send(bytes);
    }
    queuedMax = Math.max(queuedMax, due - issued);
  };
  const conns = await openConnections(port, connections, (_c, status) => {
    if (status === 200) ok += 1;
    else errors += 1;
    if (ok + errors >= total) finish();
    else dispatch();
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const timer = setInterval(() => {
    due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
    dispatch();
  }, 1);
  await done;
  clearInterval(timer);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  for (const c of conns) c.close();
  return {
    sent: issued,
    ok,
    errors,
    queuedMax,
    achievedRate: issued / (wallMs / 1000),
    loadCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * An NDJSON storm: `connections` keep-alive posters, each sending the next `alertsPerBody`-alert
 * application/x-ndjson body as soon as the previous one is answered, for `durationMs`.
 */
async function ndjsonStorm({ port, durationMs, alertsPerBody = 1000, connections = 2, bodies = 8 }) {
  const pool = Array.from({ length: bodies }, (_, b) => {
    const lines = Array.from({ length: alertsPerBody }, (_, i) => alertJson(b * alertsPerBody + i));
    const body = Buffer.from(`${lines.join('\n')}\n`);
    return Buffer.concat([
      Buffer.from(
        `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-ndjson\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
      ),
      body,
    ]);
  });
  let next = 0;
  const statuses = {};
  let stopAt = Number.POSITIVE_INFINITY;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const sendOn = (c) => {
    c.send(pool[next % pool.length]);
    next += 1;
  };
  const conns = await openConnections(port, connections, (c, status) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (Date.now() < stopAt) sendOn(c);
    else if (conns.every((x) => !x.busy)) finish();
  });
  const t0 = Date.now();
  stopAt = t0 + durationMs;
  for (const c of conns) sendOn(c);
  await done;
  for (const c of conns) c.close();
  return { bodies: next, alerts: next * alertsPerBody, statuses, ms: Date.now() - t0 };
}

/** The webhook destination, when a scenario has one (one per load process). */
let receiver;

/**
 * Falco 0.43's gRPC output server for `sub`, serving prebuilt responses: nothing is written until the
 * client sends a request; then queued responses are written back to back (pausing on back-pressure);
 * an empty queue waits for the client's next request. A C++ Falco is not the bottleneck; this
 * writes faster than Falco's one-write-at-a-time loop would in Node.
 */
class FalcoGrpc {
  constructor() {
    this.queue = 0;
    this.written = 0;
    this.batchStart = undefined;
    this.subs = new Set();
  }

  async start(address) {
    const proto = loadFalcoProto();
    const sub = proto.outputs.service.sub;
    const version = proto.version.service.version;
    this.pool = Array.from({ length: POOL }, (_, n) =>
      sub.responseSerialize(toGrpcResponse(parseFalcoJson(alertJson(n)))),
    );
    const path = address.replace(/^unix:\/\//, '');
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true });
    this.server = new grpc.Server();
    this.server.addService(
      { sub: { ...sub, responseSerialize: (bytes) => bytes } },
      { sub: (call) => this.serveSub(call) },
    );
    this.server.addService(
      { version },
      {
        version: (_call, callback) =>
          callback(null, { version: '0.43.1', major: 0, minor: 43, patch: 1, engine_version: '0.50.0' }),
      },
    );
    await new Promise((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  serveSub(call) {
    const sub = { call, writing: false };
    this.subs.add(sub);
    const pump = () => {
      sub.writing = true;
      while (this.queue > 0) {
        if (this.batchStart === undefined) this.batchStart = Date.now();
        this.queue -= 1;
        const bytes = this.pool[this.written % POOL];
        this.written += 1;
        if (!call.write(bytes)) {
          call.once('drain', pump);
          return;
        }
      }
      // Empty: Falco posts another Read and waits for the client's next message.
      sub.writing = false;
    };
    call.on('data', () => {
      if (!sub.writing) pump();
    });
    call.on('error', () => this.subs.delete(sub));
    call.on('close', () => this.subs.delete(sub));
    call.on('end', () => call.end());
  }

  push(count) {
    this.batchStart = undefined;
    this.cpuMark = process.cpuUsage();
    this.queue += count;
  }

  status() {
    const cpu = process.cpuUsage(this.cpuMark);
    return {
      written: this.written,
      queue: this.queue,
      batchStart: this.batchStart,
      loadCpuMs: (cpu.user + cpu.system) / 1000,
    };
  }

  stop() {
    this.server?.forceShutdown();
  }
}

/** One Falco per address, so that two subscribers (no-op and Perch) never split one queue. */
const falcos = new Map();

serve({
  httpSaturate,
  httpRate,
  ndjsonStorm,
  async receiverStart() {
    receiver = new WebhookReceiver();
    return receiver.start();
  },
  receiverStats: (range) => receiver.stats(range),
  async receiverStop() {
    await receiver?.stop();
    receiver = undefined;
    return {};
  },
  async grpcStart({ address }) {
    const falco = new FalcoGrpc();
    await falco.start(address);
    falcos.set(address, falco);
    return {};
  },
  grpcPush({ address, count }) {
    falcos.get(address).push(count);
    return {};
  },
  grpcStatus({ address }) {
    return falcos.get(address).status();
  },
  grpcStop() {
    for (const falco of falcos.values()) falco.stop();
    falcos.clear();
    return {};
  },
});
