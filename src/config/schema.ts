import { z } from 'zod';
import { Priority } from '../events/priority.js';
import { duration, httpUrl, isHttpUrl, listenAddress, priority, secret } from './value-types.js';

const httpSource = z.strictObject({
  enabled: z.boolean().default(true),
  /** Path Falco's http_output posts to; falcosidekick's is `/`. */
  path: z
    .string()
    .regex(/^\/[\w\-./]*$/, 'expected a URL path starting with /')
    .default('/'),
  maxBodyBytes: z
    .int()
    .positive()
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /**
   * Request bodies received and being parsed at once, in bytes (a body without Content-Length counts
   * as maxBodyBytes); beyond it a request is answered 429. One body is always taken, whatever its size.
   */
  maxInFlightBytes: z
    .int()
    .positive()
    .default(8 * 1024 * 1024),
  /** Bearer token Falco must send (Falco: http_output with a custom header); unset = no auth. */
  token: secret.optional(),
});

const fileSource = z.strictObject({
  path: z.string().min(1),
  fromBeginning: z.boolean().default(false),
  /** Where to remember how far the file was read, so a restart resumes without re-reading. */
  positionFile: z.string().min(1).optional(),
  pollInterval: duration.default(250),
  maxLineBytes: z
    .int()
    .positive()
    .default(1024 * 1024),
});

/** Certificate files for gRPC over TCP; Falco's gRPC server requires mutual TLS there. Re-read when they change. */
const tlsFiles = z.strictObject({
  ca: z.string().min(1),
  cert: z.string().min(1),
  key: z.string().min(1),
  /** Name to verify in the server's certificate when it differs from the address (Falco's recipe uses localhost). */
  serverName: z.string().min(1).optional(),
});

/** The bridge serves: the name a client checks is in its certificate, so serverName has no place here. */
const serverTlsFiles = tlsFiles.omit({ serverName: true });

const GRPC_ADDRESS = /^(unix:\/\/\/.+|unix:[^/].*|[^:/\s]+:\d{1,5}|\[[0-9a-fA-F:.]+\]:\d{1,5})$/;
const grpcAddress = z
  .string()
  .regex(GRPC_ADDRESS, 'expected unix:///path/to.sock or HOST:PORT such as localhost:5060');

const grpcSource = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Falco's grpc.bind_address: its unix socket by default (Falco ≥ 0.33). */
    address: grpcAddress.default('unix:///run/falco/falco.sock'),
    /** sub: one long stream (Falco answers only after a request, so one is sent every pollInterval); get: poll. */
    mode: z.enum(['sub', 'get']).default('sub'),
    /** sub: after this long without an alert Perch asks again (Falco's server waits for that); get: poll period. */
    pollInterval: duration.default(250),
    tls: tlsFiles.optional(),
    reconnectInitial: duration.default(1000),
    reconnectMax: duration.default(30_000),
  })
  .superRefine((value, ctx) => {
    if (value.enabled && !value.address.startsWith('unix:') && !value.tls) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: `Falco serves gRPC over TCP only with mutual TLS: set ca, cert and key for ${value.address}`,
      });
    }
  });

const grpcBridgeSink = z
  .strictObject({
    type: z.literal('grpc-bridge'),
    /** Where Perch serves falco.outputs.service and falco.version.service. */
    listen: grpcAddress.default('unix:///run/perch/falco.sock'),
    /** Server certificate and the CA that client certificates must chain to (TCP requires mutual TLS). */
    tls: serverTlsFiles.optional(),
    /** Alerts held per subscriber that reads too slowly; beyond it the oldest are dropped and counted. */
    bufferSize: z.int().positive().default(10_000),
    /** Add Perch's pod context to output_fields under the perch. prefix. */
    enrichedFields: z.boolean().default(true),
    minPriority: priority.default(Priority.Debug),
  })
  .superRefine((value, ctx) => {
    if (!value.listen.startsWith('unix:') && !value.tls) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls'],
        message: `serving gRPC on TCP (${value.listen}) requires mutual TLS, as Falco did: set ca, cert and key`,
      });
    }
  });

const consoleSink = z.strictObject({
  type: z.literal('console'),
  format: z.enum(['text', 'json']).default('text'),
  color: z.enum(['auto', 'always', 'never']).default('auto'),
  minPriority: priority.default(Priority.Debug),
});

const isolationLevel = z.enum(['host', 'container', 'sandbox', 'vm', 'unknown']);

const kubernetes = z.strictObject({
  /** auto: in a cluster (service account) or with a kubeconfig, else without Kubernetes context. */
  enabled: z.union([z.literal('auto'), z.boolean()]).default('auto'),
  /** A kubeconfig file; default: in-cluster service account, then $KUBECONFIG / ~/.kube/config. */
  kubeconfig: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  /** Watch namespaces for their pod-security.kubernetes.io/enforce label (needs list/watch namespaces). */
  watchNamespaces: z.boolean().default(false),
  /** Watch ReplicaSets and Jobs to name Deployments and CronJobs from the API (needs list/watch on both). */
  watchOwners: z.boolean().default(false),
  /** Pod labels and annotations copied onto alerts; everything else stays out of alerts and metrics. */
  labels: z.array(z.string().min(1)).default(['app.kubernetes.io/name', 'app', 'team']),
  annotations: z.array(z.string().min(1)).default([]),
  /** RuntimeClass handler → isolation, merged over the built-in map; a trailing * is a prefix match. */
  isolation: z.record(z.string(), isolationLevel).default({}),
  /** How long an alert whose pod is not in the cache yet waits for the watch to catch up. */
  pendingTimeout: duration.default(2000),
  maxPending: z.int().positive().default(10_000),
  /** How long a deleted pod stays resolvable for late alerts. */
  deletedPodGrace: duration.default(300_000),
  /** Enrich from a `kubectl get pods,runtimeclasses -o json` dump instead of the API (offline). */
  podsFile: z.string().min(1).optional(),
});

/** What every delivering sink (chat, webhook, Alertmanager) shares: filters, pacing, retries, durability. */
const deliveryFields = {
  minPriority: priority.default(Priority.Debug),
  /** Only alerts from these namespaces (globs); alerts without a namespace pass only when this is unset. */
  namespaces: z.array(z.string().min(1)).min(1).optional(),
  /** Override the destination's default pace (e.g. Slack: 1 message a second, burst 3). */
  rateLimit: z.strictObject({ perSecond: z.number().positive(), burst: z.int().positive() }).optional(),
  /** Per attempt. */
  timeout: duration.default(10_000),
  retry: z
    .strictObject({
      initial: duration.default(1000),
      max: duration.default(300_000),
      /** Give up on an alert after this long (it is counted as failed); 0 = keep trying. */
      giveUpAfter: duration.default(86_400_000),
    })
    .prefault({}),
  /** Alerts waiting in memory for this sink; beyond it the oldest lowest-priority one is dropped, counted. */
  queueSize: z.int().positive().default(1000),
  /** Requests in flight at once; unset: the destination's default (webhook 8, others 1). */
  maxInFlight: z.int().min(1).max(64).optional(),
  /** Alerts at or above this priority are written to the spool before they count as accepted; off when unset. */
  spoolMinPriority: priority.optional(),
  /** A user template (see docs/delivery.md) replacing the default layout's text. */
  template: z.string().min(1).optional(),
};

/** Several alerts in one request, for destinations that take an array. */
export const batchSettings = z.strictObject({
  /** Alerts per request at most. */
  maxAlerts: z.int().min(1).max(1000).default(64),
  /** How long the first alert may wait for more; 0: whatever is queued when a request can go. */
  maxWait: duration.default(0),
});

const urlSecret = secret.refine((s) => isHttpUrl(s.reveal()), {
  message: 'expected an http(s) URL (the value is not shown: it is a secret)',
});

const chatSink = <T extends string>(type: T) =>
  z.strictObject({ type: z.literal(type), url: urlSecret, ...deliveryFields });

const webhookSink = z.strictObject({
  type: z.literal('webhook'),
  url: urlSecret,
  /** Standard Webhooks signing secret (whsec_… base64, or any string): adds webhook-id/-timestamp/-signature. */
  signingSecret: secret.optional(),
  /** Checked here: fetch would refuse them at every send, quoting the value (often a credential). */
  headers: z
    .record(
      z
        .string()
        .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "header names are letters, digits and !#$%&'*+.^_`|~-"),
      z.string().refine((value) => !/[\r\n\0]/.test(value), {
        message:
          'a header value cannot contain a line break or NUL (the value is not shown: it may be a secret)',
      }),
    )
    .default({}),
  /** Off unless set: then the body is a JSON array of the one-alert bodies (see docs/delivery.md). */
  batch: batchSettings.optional(),
  ...deliveryFields,
});

const telegramSink = z.strictObject({
  type: z.literal('telegram'),
  botToken: secret,
  chatId: z.union([z.string().min(1), z.int()]).transform(String),
  /** Telegram's API base; change only for a local Bot API server (or tests). */
  apiUrl: z.string().url().default('https://api.telegram.org'),
  ...deliveryFields,
});

const alertmanagerSink = z.strictObject({
  type: z.literal('alertmanager'),
  /** Every Alertmanager of the HA cluster: each gets every alert (they deduplicate among themselves). */
  urls: z.array(httpUrl).min(1),
  /** Extra labels on every alert (e.g. cluster). */
  labels: z
    .record(
      z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names are [a-zA-Z_][a-zA-Z0-9_]*'),
      z.string(),
    )
    .default({}),
  /** How long an event alert stays active in Alertmanager (endsAt). */
  resolveAfter: duration.default(900_000),
  /** Incidents are re-sent this often while active, as Alertmanager expects of its clients. */
  resendInterval: duration.default(60_000),
  /** How long an incident stays active after it was raised. */
  incidentActiveFor: duration.default(3_600_000),
  /** Alertmanager takes an array of alerts: up to 64 per post by default. */
  batch: batchSettings.prefault({}),
  ...deliveryFields,
});

/** Headers Perch sets itself on OTLP requests: a configured one of the same name would break the body. */
const OTLP_RESERVED_HEADERS = new Set(['content-type', 'content-encoding', 'content-length', 'host']);

const { template: _noTemplate, ...otlpDeliveryFields } = deliveryFields;

const otlpSink = z.strictObject({
  type: z.literal('otlp'),
  /** The receiver's base URL (`http://otel-collector:4318`): `/v1/logs` is appended unless the path already ends with it. */
  endpoint: httpUrl,
  protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  /** Often a credential (Authorization, an API key): kept as secrets, never logged nor spooled. */
  headers: z
    .record(
      z
        .string()
        .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "header names are letters, digits and !#$%&'*+.^_`|~-")
        .refine((name) => !OTLP_RESERVED_HEADERS.has(name.toLowerCase()), {
          message: 'Perch sets content-type, content-encoding, content-length and host itself',
        }),
      secret.refine((value) => !/[\r\n\0]/.test(value.reveal()), {
        message:
          'a header value cannot contain a line break or NUL (the value is not shown: it may be a secret)',
      }),
    )
    .default({}),
  compression: z.enum(['gzip', 'none']).default('none'),
  /** One record per alert: up to 64 records per request by default (the same settings as the other batching sinks). */
  batch: batchSettings.prefault({}),
  ...otlpDeliveryFields,
});
/** Forwards every event, with its Kubernetes context, to the cluster's hub (`perch hub`). */
const hubSink = z
  .strictObject({
    type: z.literal('hub'),
    /** The hub's Service, e.g. http://perch-hub.perch:2805; alerts go to its versioned ingest path. */
    url: httpUrl,
    /** Sent as `Authorization: Bearer …` when the hub requires one (`hub.token`); never spooled. */
    token: secret.optional(),
    /** Alerts per request: up to 100 by default, whatever is queued when a request can go. */
    batch: batchSettings.optional(),
    ...deliveryFields,
    // The hub renders the messages people read: a template here would never be used.
  })
  .omit({ template: true });

const sink = z.discriminatedUnion('type', [
  consoleSink,
  grpcBridgeSink,
  chatSink('slack'),
  chatSink('mattermost'),
  chatSink('teams'),
  chatSink('discord'),
  chatSink('googlechat'),
  telegramSink,
  webhookSink,
  alertmanagerSink,
  otlpSink,
  hubSink,
]);

export const SINK_NAME = /^[a-z0-9]([a-z0-9_-]{0,62})$/;

export const configSchema = z.strictObject({
  /** Drop-in files merged over perch.yaml, in name order; read by the loader (config-files.ts). */
  includeDir: z.string().min(1).optional(),
  /** This node's name; defaults to $NODE_NAME (the downward API), then the host name. */
  nodeName: z.string().min(1).optional(),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  server: z
    .strictObject({
      listen: listenAddress.default({ host: '0.0.0.0', port: 2804 }),
      /** How long shutdown may take to drain in-flight alerts before Perch gives up. */
      shutdownGrace: duration.default(10_000),
    })
    .prefault({}),
  kubernetes: kubernetes.prefault({}),
  metrics: z
    .strictObject({
      /** Labels of perch_falco_events_total; pod and container are available but off: they multiply series. */
      eventLabels: z
        .array(
          z.enum([
            'rule',
            'priority',
            'source',
            'namespace',
            'workload_kind',
            'workload',
            'runtime_class',
            'isolation',
            'node',
            'pod',
            'container',
          ]),
        )
        .default([
          'rule',
          'priority',
          'source',
          'namespace',
          'workload_kind',
          'workload',
          'runtime_class',
          'isolation',
        ]),
      /** Series per metric before new label combinations fold into `_overflow`. */
      maxSeries: z.int().positive().default(5000),
      /** Also expose falco_events exactly as falco-exporter did, for existing dashboards and alerts. */
      falcoExporterCompat: z.boolean().default(false),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      /** The durable spool (SQLite): keep it on a volume that survives pod restarts. */
      spoolPath: z.string().min(1).default('/var/lib/perch/spool.db'),
      /** Entries across all sinks; beyond it the oldest lowest-priority entries are evicted, counted. */
      spoolMaxEntries: z.int().positive().default(100_000),
      /** While the spool cannot be written (full disk, read-only volume), how often to try again. */
      spoolRetryInterval: duration.default(10_000),
    })
    .prefault({}),
  pipeline: z
    .strictObject({
      /** Events held between the inputs and the pipeline; when full, the lowest priorities are shed first. */
      bufferSize: z.int().positive().default(5_000),
      /** Groups tracked across all correlation rules; the least recently updated are evicted beyond it. */
      maxCorrelationGroups: z.int().positive().default(20_000),
      /**
       * How long dedup windows and correlation groups stay open past their end for alerts that
       * arrive late (windows are measured on Falco's time of each alert); an alert's time counts as
       * at most this far past when Perch received it, so a clock running ahead cannot skew windows.
       */
      allowedLateness: duration.default(30_000),
    })
    .prefault({}),
  rules: z
    .strictObject({
      /** Evaluate Perch's bundled rules (rules/default.yaml) after the files below. */
      defaults: z.boolean().default(true),
      /** Your rules files, evaluated first, in order, so they can override the defaults. */
      files: z.array(z.string().min(1)).default([]),
      /** Reload when a rules file changes (SIGHUP always reloads). */
      watch: z.boolean().default(true),
      /**
       * Let a reload empty one of your files that had rules or correlations. Off, such a reload is
       * refused: an empty file is more often a truncated or half-applied update than a wish to drop
       * every rule and silence. An empty file is accepted at start either way (a fresh install ships one).
       */
      allowEmpty: z.boolean().default(false),
      dedup: z
        .strictObject({
          /** Fingerprint of "the same alert": rule, workload, namespace, pod, container, node, or output field names. */
          key: z.array(z.string().min(1)).min(1).default(['rule', 'workload']),
          /** Repeats inside this window become one digest; `0s` turns deduplication off. */
          window: duration.default(300_000),
          /**
           * Most dedup windows open at once (one per fingerprint, a few more while a fingerprint's
           * alerts arrive out of time order); beyond it the window that ends soonest is closed early.
           */
          maxKeys: z.int().positive().default(10_000),
        })
        .prefault({}),
    })
    .prefault({}),
  sources: z
    .strictObject({
      http: httpSource.prefault({}),
      grpc: grpcSource.prefault({}),
      files: z.array(fileSource).default([]),
      stdin: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
    })
    .prefault({}),
  /** Settings of `perch hub`; an agent ignores them. */
  hub: z
    .strictObject({
      /** Bearer token agents must send (their hub sink's `token`); unset = any client that reaches the hub may post. */
      token: secret.optional(),
      /** Longest an agent's request waits for its alerts to be settled before 503 + Retry-After. */
      ackTimeout: duration.default(5000),
      /** Alert ids remembered to drop one taken already; beyond it the oldest are forgotten, counted. */
      maxIds: z.int().positive().default(200_000),
      /** How long an id is remembered: longer than an agent keeps retrying a delivered batch. */
      idRetention: duration.default(3_600_000),
      leaderElection: z
        .strictObject({
          /** auto: on a Kubernetes Lease when a cluster is found (in-cluster or kubeconfig), else a lone leader. */
          enabled: z.union([z.literal('auto'), z.boolean()]).default('auto'),
          leaseName: z.string().min(1).default('perch-hub'),
          /** Default: $POD_NAMESPACE, then the service account's namespace, then `default`. */
          namespace: z.string().min(1).optional(),
          /** Default: $POD_NAME, then the host name. */
          identity: z.string().min(1).optional(),
          leaseDuration: duration.default(15_000),
          /** A leader that has not renewed for this long steps down (before another may take over). */
          renewDeadline: duration.default(10_000),
          retryPeriod: duration.default(2000),
        })
        .refine((e) => e.renewDeadline < e.leaseDuration, {
          message: 'renewDeadline must be shorter than leaseDuration',
        })
        .refine((e) => e.retryPeriod < e.renewDeadline, {
          message: 'retryPeriod must be shorter than renewDeadline',
        })
        .prefault({}),
    })
    .prefault({}),
  sinks: z
    .record(z.string().regex(SINK_NAME, 'sink names are lower-case letters, digits, - and _'), sink)
    .default({ console: { type: 'console', format: 'text', color: 'auto', minPriority: Priority.Debug } }),
});

export type PerchConfig = z.output<typeof configSchema>;
export type HttpSourceConfig = PerchConfig['sources']['http'];
export type FileSourceConfig = PerchConfig['sources']['files'][number];
export type SinkConfig = PerchConfig['sinks'][string];
export type KubernetesConfig = PerchConfig['kubernetes'];
export type RulesConfig = PerchConfig['rules'];
export type MetricsConfig = PerchConfig['metrics'];
export type ConsoleSinkConfig = z.output<typeof consoleSink>;
export type GrpcBridgeSinkConfig = z.output<typeof grpcBridgeSink>;
export type DeliverySinkConfig = Exclude<SinkConfig, ConsoleSinkConfig | GrpcBridgeSinkConfig>;
export type WebhookSinkConfig = z.output<typeof webhookSink>;
export type TelegramSinkConfig = z.output<typeof telegramSink>;
export type AlertmanagerSinkConfig = z.output<typeof alertmanagerSink>;
export type OtlpSinkConfig = z.output<typeof otlpSink>;
export type DeliveryConfig = PerchConfig['delivery'];
export type HubSinkConfig = z.output<typeof hubSink>;
export type HubConfig = PerchConfig['hub'];
export type GrpcSourceConfig = PerchConfig['sources']['grpc'];
export type TlsFilesConfig = z.output<typeof tlsFiles>;
