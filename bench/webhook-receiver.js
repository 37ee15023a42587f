// The webhook destination of the delivery figures, in the load process: answers every POST with 200 and
// times each delivered alert against the moment the load generator posted it to Perch (same process,
// same clock), matched by the `seq=` marker the alert's output carries.

import { createServer } from 'node:http';

const SEQ = /seq=(\d+)/g;
const INCIDENT = /"type":"alert\.incident"/g;

export class WebhookReceiver {
  constructor() {
    /** Post time (performance.now()) by seq, filled by the load generator. */
    this.postedAt = new Map();
    /** Receipt → delivered, ms, by seq; the first delivery of a seq only. */
    this.latency = new Map();
    this.requests = 0;
    this.duplicates = 0;
    /** Incidents delivered (the correlations' own alerts): deliveries no posted alert stands for. */
    this.incidents = 0;
  }

  async start() {
    this.server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        const now = performance.now();
        this.requests += 1;
        const body = Buffer.concat(chunks).toString('utf8');
        this.incidents += body.match(INCIDENT)?.length ?? 0;
        // A batch body (several alerts) is matched alert by alert.
        for (const match of body.matchAll(SEQ)) {
          const seq = Number(match[1]);
          const posted = this.postedAt.get(seq);
          if (posted === undefined) continue;
          if (this.latency.has(seq)) this.duplicates += 1;
          else this.latency.set(seq, now - posted);
        }
        res.writeHead(200, { 'content-length': '0' });
        res.end();
      });
    });
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return { port: this.server.address().port };
  }

  /**
   * Delivered alerts and latency percentiles of the seqs in the ranges [from, to); requests and
   * incidents delivered so far.
   */
  stats({ ranges }) {
    const list = [];
    for (const { from, to } of ranges) {
      for (let seq = from; seq < to; seq++) {
        const ms = this.latency.get(seq);
        if (ms !== undefined) list.push(ms);
      }
    }
    list.sort((a, b) => a - b);
    const at = (p) =>
      list.length === 0 ? null : list[Math.min(list.length - 1, Math.max(0, Math.ceil(p * list.length) - 1))];
    return {
      delivered: list.length,
      p50: at(0.5),
      p99: at(0.99),
      max: list.length === 0 ? null : list[list.length - 1],
      requests: this.requests,
      duplicates: this.duplicates,
      incidents: this.incidents,
    };
  }

  async stop() {
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve()));
  }
}
