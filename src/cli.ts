#!/usr/bin/env node
import { inspect } from 'node:util';
import { Command, Option } from 'commander';
import { Agent, type StopResult } from './app/agent.js';
import { applyRunFlags, type RunFlags } from './app/cli-overrides.js';
import { runDemo } from './app/demo.js';
import { formatReplaySummary, replayFile } from './app/replay.js';
import { testSink } from './app/test-sink.js';
import { ConfigError, formatProblems } from './config/config-error.js';
import { loadConfig } from './config/load-config.js';
import { stringifyExact } from './events/serialize-event.js';
import { createLogger } from './logging/logger.js';
import { loadRules } from './rules/load-rules.js';
import { RulesError } from './rules/rules-holder.js';
import { sinkTemplateProblems } from './sinks/check-sinks.js';
import { redactSecrets } from './util/redact.js';

// `perch replay … | head` closes our stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command()
  .name('perch')
  .description('Node-local companion to Falco: enriches, correlates and delivers Falco alerts.')
  .version('0.1.0');

program
  .command('run', { isDefault: true })
  .description('run the agent (HTTP input on :2804 unless configured otherwise)')
  .option('-c, --config <file>', 'perch.yaml (without one, Perch runs on defaults)')
  .option('--listen <host:port>', 'address of the HTTP server (ingest, /metrics, /healthz, /readyz)')
  .option('--stdin', 'read JSON alerts from standard input: falco -o json_output=true | perch run --stdin')
  .addOption(new Option('--file <path...>', "follow Falco's file_output (JSON lines), like tail -F"))
  .option(
    '--pods <file>',
    'Kubernetes context from a kubectl get pods,runtimeclasses -o json dump instead of the API',
  )
  .option('--json', 'console sinks print JSON lines instead of text')
  .action(async (flags: RunFlags) => {
    const config = loadOrExit({ path: flags.config, overrides: (tree) => applyRunFlags(tree, flags) });
    const log = createLogger(config.log.level);
    let agent: Agent;
    try {
      agent = new Agent(config, { stdout: process.stdout, stdin: process.stdin }, log);
    } catch (err) {
      if (!(err instanceof RulesError)) throw err;
      process.stderr.write(`perch: ${err.message}\n`);
      process.exit(2);
    }
    // SIGHUP reloads the rules without losing dedup or correlation state, as daemons do.
    process.on('SIGHUP', () => agent.rules.reload('SIGHUP'));
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(130);
      }
      void agent.stop(signal).then((result) => process.exit(exitCode(result)));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await agent.start();
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'cannot start');
      process.exit(1);
    }
    await agent.finished;
    process.exit(exitCode(await agent.stop('every source has ended')));
  });

program
  .command('replay <file>')
  .description('run the pipeline offline over a JSON-lines file and print what would be sent')
  .option('--json', 'print one JSON object per alert (the summary goes to stderr)')
  .option('--pods <file>', 'enrich from a dump: kubectl get pods,runtimeclasses -o json > cluster.json')
  .option('-c, --config <file>', 'perch.yaml, for its kubernetes settings (label allowlist, isolation map)')
  .action(async (file: string, flags: { json?: boolean; pods?: string; config?: string }) => {
    const config = loadOrExit({
      path: flags.config,
      overrides: (tree) =>
        applyRunFlags(tree, { config: flags.config, ...(flags.pods ? { pods: flags.pods } : {}) }),
    });
    const log = createLogger('warn');
    try {
      const summary = await replayFile(file, { json: flags.json === true, out: process.stdout, log, config });
      process.stderr.write(`${formatReplaySummary(file, summary)}\n`);
      if (flags.json) process.stderr.write(`${stringifyExact({ summary })}\n`);
      process.exitCode = summary.events === 0 && summary.rejected > 0 ? 1 : 0;
    } catch (err) {
      if (!(err instanceof RulesError)) throw err;
      process.stderr.write(`perch: ${err.message}\n`);
      process.exitCode = 2;
    }
  });

program
  .command('check')
  .description('validate perch.yaml, list every problem, exit non-zero if there is any')
  .option('-c, --config <file>', 'perch.yaml', 'perch.yaml')
  .action((flags: { config: string }) => {
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig({ path: flags.config });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(
        `${err.source}: ${err.problems.length} problem(s)\n${formatProblems(err.problems)}\n`,
      );
      process.exitCode = 1;
      return;
    }
    const templateProblems = sinkTemplateProblems(config);
    if (templateProblems.length > 0) {
      process.stderr.write(
        `sinks: ${templateProblems.length} problem(s)\n${templateProblems.map((e) => `  - ${e}`).join('\n')}\n`,
      );
      process.exitCode = 1;
      return;
    }
    const rules = loadRules({ config: config.rules, sinkNames: Object.keys(config.sinks) });
    for (const warning of rules.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (rules.errors.length > 0) {
      process.stderr.write(
        `rules: ${rules.errors.length} problem(s)\n${rules.errors.map((e) => `  - ${e}`).join('\n')}\n`,
      );
      process.exitCode = 1;
      return;
    }
    const sinks = Object.keys(config.sinks).join(', ') || 'none';
    process.stdout.write(
      `${flags.config}: OK (listen ${config.server.listen.host}:${config.server.listen.port}; sinks: ${sinks}; ` +
        `${rules.ruleSet.rules.length} rules and ${rules.ruleSet.correlations.length} correlations from ${rules.ruleSet.sources.length} file(s))\n`,
    );
  });

program
  .command('test-sink <name>')
  .description('send a test alert to one sink of perch.yaml and report what the destination answered')
  .option('-c, --config <file>', 'perch.yaml', 'perch.yaml')
  .action(async (name: string, flags: { config: string }) => {
    const config = loadOrExit({ path: flags.config });
    const result = await testSink(config, name, createLogger('warn'));
    (result.ok ? process.stdout : process.stderr).write(`${result.message}\n`);
    process.exitCode = result.ok ? 0 : 1;
  });

program
  .command('demo')
  .description('start the agent on bundled Falco alerts and show what it does with them')
  .action(async () => {
    process.exitCode = await runDemo({ out: process.stdout, log: createLogger('warn') });
  });

/** README's exit-code table: 0 nothing lost, 3 alerts lost at shutdown (the log line counts them). */
function exitCode(result: StopResult): number {
  return result.clean ? 0 : EXIT_ALERTS_LOST;
}

const EXIT_ALERTS_LOST = 3;

function loadOrExit(options: Parameters<typeof loadConfig>[0]) {
  try {
    return loadConfig(options);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`perch: invalid configuration in ${err.source}\n${formatProblems(err.problems)}\n`);
    process.exit(2);
  }
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // What nothing expected (a sink that cannot be built) would be printed by Node with every property
  // of the error, and `new URL` puts the whole URL, password included, in its `input`.
  process.stderr.write(`perch: ${redactSecrets(inspect(err))}\n`);
  process.exit(1);
}
