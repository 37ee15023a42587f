/**
 * Alerts whose every attacker-reachable string (rule, output, output fields, pod, namespace, workload,
 * container, image, runtime class, reasons, tags, incident titles and groups) tries to ping, link,
 * format, break out of code, disguise itself or overflow a limit; and templates that put values in
 * every kind of markup, empty or not. Each contract test renders every alert with every template.
 */
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment, PodContext } from '../../src/kube/pod-context.js';
import {
  type Alert,
  alertFromEvent,
  type DigestAlert,
  type EventAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import { TEMPLATE_VARIABLES } from '../../src/sinks/destinations/template.js';
import { podContext } from '../fixtures/pod-context.js';

export const MENTIONS =
  '@channel @here @all @everyone @alice <!channel> <!here> <!everyone> <!group> <@U123ABC> <@!123456> <@&654321> <#C789> <!subteam^S1|team> <users/all> <users/1234>';
export const LINKS =
  'https://evil.example/x?a=1&b=2 [click](https://evil.example) <https://evil.example|label> evil.example mallory@evil.example www.evil.example tg://user?id=1 /start #hashtag $USD';
export const MARKUP =
  '*b0ld* **b0ld** _1t_ __und__ ~str~ ~~str~~ ||spoiler|| <b>html</b> <a href="https://evil.example">y</a> <pre>p</pre> &amp; &lt; &#60; > :smile: \\* \\';
export const LINE_MARKUP = '# heading\n> quote\n- list\n1. one\n```\nfenced\n```';
export const BACKTICKS = 'a`b ``c`` ```d``` ` `` ```` x`';
export const CONTROLS =
  '\u001b[31mred\u001b[0m \u001b]0;title\u0007 \u202eexe.txt \u2066iso\u2069 \u200bzw\u200c\u200e \u00ad \r\n\t\u0000 \u2028';

/** A family emoji (four people joined by U+200D) and a letter with two combining marks. */
export const FAMILY = '👩\u200d👩\u200d👧\u200d👦';
export const ACCENTED = '\u0298\u0301\u0323';
export const GRAPHEME_UNITS = [FAMILY, ACCENTED] as const;

const EVERYTHING = [MENTIONS, LINKS, MARKUP, LINE_MARKUP, BACKTICKS, CONTROLS, FAMILY, ACCENTED].join(' ');

/** About 10 KB of everything above, with whole-character runs so cuts land inside sequences. */
export const TEN_KB = `${EVERYTHING} ${`${FAMILY}${ACCENTED}x`.repeat(400)} `.repeat(3);

function enrichment(pod: Partial<PodContext>): Enrichment {
  return {
    outcome: 'container_id',
    pod: podContext({
      namespace: `ns-${MENTIONS}`,
      node: `node-${LINKS}`,
      workload: { kind: 'Deployment', name: `api-${MARKUP}` },
      isolation: 'container',
      runtimeClass: `rc-${BACKTICKS}`,
      handler: `h-${CONTROLS}`,
      missingRuntimeClass: true,
      posture: {
        level: 'privileged',
        violations: [{ check: 'privileged', level: 'baseline', container: 'api', field: 'f', value: 'true' }],
      },
      container: { name: `c-${MENTIONS}`, kind: 'container', image: `registry.${LINKS}` },
      ...pod,
    }),
  };
}

interface EventParts {
  rule: string;
  output: string;
  fields?: Record<string, unknown>;
  pod?: Partial<PodContext>;
  enrichment?: Enrichment;
  hostname?: string;
}

let sequence = 0;

function event(parts: EventParts): EventAlert {
  const doc: Record<string, unknown> = {
    hostname: parts.hostname ?? `host-${MARKUP}`,
    output: parts.output,
    output_fields: parts.fields ?? { 'proc.cmdline': EVERYTHING, 'fd.name': LINKS, 'user.name': null },
    priority: 'Critical',
    rule: parts.rule,
    source: 'syscall',
    tags: [MENTIONS, LINKS, 'container'],
    time: '2026-01-01T09:15:02.123456789Z',
  };
  sequence += 1;
  const alert = alertFromEvent(
    {
      event: parseFalcoJson(JSON.stringify(doc)),
      enrichment: parts.enrichment ?? enrichment(parts.pod ?? {}),
    },
    1_767_258_902_000 + sequence,
  );
  return { ...alert, reasons: [`raised by ${MENTIONS}`, `routed for ${LINKS}`] };
}

/** An event alert of the corpus with this rule and output. */
export const eventAlert = (rule: string, output: string): EventAlert => event({ rule, output });

const hostile = (): EventAlert =>
  event({ rule: `Shell ${EVERYTHING}`, output: `09:15:02.123456789: Critical ${EVERYTHING}` });

/** The same long run of emoji sequences and accented letters, shifted so every cut lands elsewhere. */
function shifted(offset: number): EventAlert {
  // 14 KB: under the 16 KB at which Perch's intake cuts a field.
  const run = `${'x'.repeat(offset)}${`${FAMILY}${ACCENTED}`.repeat(1000)}`;
  return event({ rule: run, output: run, pod: { pod: run, namespace: run } });
}

function fiveHundredFields(): EventAlert {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < 500; i++) {
    fields[`custom.f${i}`] = i % 3 === 0 ? null : i % 3 === 1 ? `${MENTIONS} ${i}` : `${LINKS} ${BACKTICKS}`;
  }
  // json_include_output_property: false: the message is made of the fields.
  return event({ rule: `Many fields ${MARKUP}`, output: '', fields });
}

function hostEvent(): EventAlert {
  // No pod: most template values are empty.
  return event({
    rule: `Host ${BACKTICKS}`,
    output: `11:00:00.000000001: Warning ${BACKTICKS} ${MENTIONS}`,
    fields: { 'container.id': 'host', 'k8s.pod.name': null, 'k8s.ns.name': null },
    enrichment: { outcome: 'host' },
    hostname: '',
  });
}

function digest(): DigestAlert {
  const sample = hostile();
  return {
    kind: 'digest',
    id: 'dig-1',
    priority: Priority.Critical,
    reasons: [`digest ${MENTIONS}`],
    receivedAtMs: 0,
    fingerprint: 'f',
    rule: sample.event.rule,
    count: 57,
    firstSeenMs: 1_767_258_902_000,
    lastSeenMs: 1_767_259_198_000,
    windowMs: 300_000,
    pods: [`web-${MENTIONS}`, `web-${LINKS}`, TEN_KB],
    podCount: 9,
    namespace: `ns-${BACKTICKS}`,
    workload: { kind: 'Deployment', name: `w-${MARKUP}` },
    sample,
  };
}

function incident(): IncidentAlert {
  const sample = hostile();
  return {
    kind: 'incident',
    id: 'inc-1',
    priority: Priority.Critical,
    reasons: [`correlation ${MENTIONS}`],
    receivedAtMs: 0,
    correlation: `corr-${LINKS}`,
    type: 'temporal_ordered',
    title: `Recon then exfiltration ${EVERYTHING}`,
    group: { pod: `payments/${MENTIONS}`, 'container.id': BACKTICKS },
    timeline: Array.from({ length: 50 }, (_, i) => ({
      timeMs: 1_767_258_902_000 + i,
      rule: `Exfil ${i}`,
      priority: i % 2 === 0 ? Priority.Notice : Priority.Critical,
      summary: i % 5 === 0 ? TEN_KB : `Exfil ${EVERYTHING}`,
    })),
    eventCount: 500,
    firstSeenMs: 1_767_258_902_000,
    lastSeenMs: 1_767_258_962_000,
    sample,
  };
}

/** Every hostile alert, named for test titles. */
export function hostileAlerts(): [string, Alert][] {
  return [
    ['hostile event', hostile()],
    ['10 KB values', event({ rule: TEN_KB, output: TEN_KB, pod: { pod: TEN_KB, namespace: TEN_KB } })],
    ...[0, 1, 2, 3, 5, 8, 13].map((k): [string, Alert] => [`grapheme cut +${k}`, shifted(k)]),
    ['500 fields, no output', fiveHundredFields()],
    ['host event, null fields', hostEvent()],
    ['digest', digest()],
    ['incident', incident()],
  ];
}

const EVERY_VARIABLE = Object.keys(TEMPLATE_VARIABLES);

/** Templates in Markdown-like markup (Slack, Mattermost, Discord, Teams). */
export const MARKDOWN_TEMPLATES = [
  '**{{title}}** in `{{workload}}`: {{output}}',
  '*{{title}}* in `{{workload}}`: {{output}}',
  '`{{namespace}}/{{pod}}` ``{{container}}`` ```{{output}}```',
  '```\n{{timeline}}\n```',
  'it`s {{rule}} `unclosed {{image}} C:\\ {{pod}} ``{{container}}',
  '{{namespace}}{{pod}}{{container}}`{{handler}}``{{runtime_class}}`',
  '[{{rule}}](https://dash.example/{{pod}}) _{{reasons}}_ ~{{tags}}~',
  EVERY_VARIABLE.map((v) => `\`{{${v}}}\``).join(' '),
  EVERY_VARIABLE.map((v) => `${v}: {{${v}}}`).join('\n'),
];

/** Templates in Telegram's HTML. */
export const TELEGRAM_TEMPLATES = [
  '<b>{{title}}</b> in <code>{{workload}}</code>: <pre>{{output}}</pre>',
  '<blockquote><b>{{rule}}</b> {{pod}}</blockquote>',
  '<a href="https://dash.example/pods/{{pod}}">{{pod}}</a> <i>{{reasons}}</i>',
  "<b><i>{{namespace}}</i>/{{pod}}</b> <a href='https://dash.example/{{rule}}'>x</a>",
  '<pre><code class="language-text">{{timeline}}</code></pre>',
  EVERY_VARIABLE.map((v) => `<b>${v}:</b> {{${v}}}`).join('\n'),
];

/** Templates in Google Chat's card HTML. */
export const GOOGLE_CHAT_TEMPLATES = [
  '<b>{{title}}</b> <a href="https://dash.example/pods/{{pod}}">{{pod}}</a> {{output}}',
  '<font color="#ff0000">{{rule}}</font><br>{{timeline}}',
  EVERY_VARIABLE.map((v) => `<b>${v}:</b> {{${v}}}`).join('<br>'),
];

/** Where a template may link: the author's own dashboard. */
export const TEMPLATE_LINK_HOST = 'dash.example';
