const OPENMETRICS = 'application/openmetrics-text';

export const PROMETHEUS_TEXT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/**
 * Content negotiation for /metrics. Perch prefers the Prometheus text format whenever the client
 * accepts it (Prometheus does, alongside OpenMetrics): there, counters keep the names dashboards
 * know (falco-exporter's `falco_events` has no `_total`, and OpenMetrics would rename it). A client
 * that accepts only OpenMetrics gets OpenMetrics.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept.split(',').map((part) => {
    const [type = '', ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return { type: type.trim().toLowerCase(), q: q ? Number(q.slice(2)) : 1 };
  });
  const accepts = (test: (t: string) => boolean) => types.some((t) => test(t.type) && t.q > 0);
  const textOk = accepts((t) => t === 'text/plain' || t === 'text/*' || t === '*/*');
  return !textOk && accepts((t) => t === OPENMETRICS);
}

/**
 * Prometheus text → OpenMetrics 1.0: counter families lose `_total` in their metadata and their
 * samples carry it; families are not separated by blank lines; `# EOF` ends the exposition.
 * (prom-client 15.1.3 can render OpenMetrics itself, but doing so renames its counters in place,
 * corrupting every later text scrape; see lib/registry.js metrics().)
 */
export function toOpenMetrics(text: string): string {
  const counters = new Set<string>();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
    if (meta) {
      const [, kind = '', name = '', rest = ''] = meta;
      if (kind === 'TYPE' && rest.trim() === 'counter') counters.add(name);
      const family =
        name.endsWith('_total') && (kind === 'HELP' || rest.trim() === 'counter') ? name.slice(0, -6) : name;
      out.push(`# ${kind} ${family}${rest}`);
      continue;
    }
    const sample = /^([A-Za-z_:][\w:]*)(.*)$/.exec(line);
    const name = sample?.[1] ?? '';
    out.push(counters.has(name) && !name.endsWith('_total') ? `${name}_total${sample?.[2] ?? ''}` : line);
  }
  return `${out.join('\n')}\n# EOF\n`;
}
