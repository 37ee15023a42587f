#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): where the non-idle time went, by package/file and by
// function (self time, and inclusive time for Perch's own functions). Used by `bench/run.js --profile DIR`;
// also runnable alone: `node bench/profile-summary.js FILE.cpuprofile... [--top N]` (several files, e.g. the
// rounds of one scenario, are added up).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function where(url) {
  if (!url) return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
}

/** Coarse owner of a frame: perch:<file>, a package name, node internals, or V8's pseudo-frames. */
function owner(frame) {
  const path = where(frame.url);
  if (!path) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (path.startsWith('node:')) return 'node internals';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1];
  if (path.startsWith('dist/')) return `perch ${path.slice(5)}`;
  if (path.startsWith('bench/')) return `bench ${path.slice(6)}`;
  return path;
}

const label = (frame) =>
  `${frame.functionName || '(anonymous)'} ${where(frame.url) ? `${where(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();

export function analyseProfile(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  let idle = 0;
  const selfByFunction = new Map();
  const selfByOwner = new Map();
  const inclusive = new Map();
  for (const [id, us] of self) {
    const node = byId.get(id);
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const key = label(frame);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us);
    const o = owner(frame);
    selfByOwner.set(o, (selfByOwner.get(o) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets the sample once.
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at).callFrame;
      const k = label(f);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    selfByOwner: sorted(selfByOwner),
    selfByFunction: sorted(selfByFunction),
    inclusive: sorted(inclusive),
    total,
  };
}

/** Several profiles of the same scenario (rounds) added up. */
function merge(analyses) {
  const add = (key) => {
    const m = new Map();
    for (const a of analyses) for (const [k, v] of a[key]) m.set(k, (m.get(k) ?? 0) + v);
    return [...m.entries()].sort((x, y) => y[1] - x[1]);
  };
  const sum = (key) => analyses.reduce((t, a) => t + a[key], 0);
  return {
    totalMs: sum('totalMs'),
    idleMs: sum('idleMs'),
    total: sum('total'),
    selfByOwner: add('selfByOwner'),
    selfByFunction: add('selfByFunction'),
    inclusive: add('inclusive'),
  };
}

export function summariseProfile(files, { top = 20 } = {}) {
  const list = Array.isArray(files) ? files : [files];
  const a = merge(list.map((file) => analyseProfile(JSON.parse(readFileSync(file, 'utf8')))));
  const pct = (us) => `${((100 * us) / a.total).toFixed(1).padStart(5)} %`;
  const lines = [
    `${list.map((f) => basename(f)).join(' + ')}: ${a.totalMs.toFixed(0)} ms on CPU, ${a.idleMs.toFixed(0)} ms idle`,
    '  self time by owner:',
    ...a.selfByOwner.slice(0, top).map(([k, us]) => `    ${pct(us)}  ${k}`),
    '  self time by function:',
    ...a.selfByFunction.slice(0, top).map(([k, us]) => `    ${pct(us)}  ${k}`),
    "  inclusive time, Perch's own functions (dist/):",
    ...a.inclusive
      .filter(([k]) => / dist\//.test(k))
      .slice(0, top)
      .map(([k, us]) => `    ${pct(us)}  ${k}`),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.js FILE.cpuprofile... [--top N]\n');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  const files = process.argv.slice(2).filter((a, k, all) => a !== '--top' && all[k - 1] !== '--top');
  process.stdout.write(`${summariseProfile(files, { top: i > 0 ? Number(process.argv[i + 1]) : 25 })}\n`);
}
