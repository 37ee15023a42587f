#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { inspect } from 'node:util';
import { Command } from 'commander';
import { Agent, type StopResult } from './app/agent.js';
import { runDemo } from './app/demo.js';
import { EXIT } from './app/exit-codes.js';
import { formatReplaySummary, replayFile } from './app/replay.js';
import { applyRunFlags, RUN_FLAGS, type RunFlagName, type RunFlags, runFlagOption } from './app/run-flags.js';
import { describeSinks } from './app/sinks-in-use.js';
import { testSink } from './app/test-sink.js';
import {
  countProblems,
  formatProblemGroups,
  type StartupValidation,
  validateStartup,
} from './app/validate-startup.js';
import type { PerchConfig } from './config/schema.js';
import { stringifyExact } from './events/serialize-event.js';
import { Hub } from './hub/hub.js';
import { createLogger } from './logging/logger.js';
import { RulesError } from './rules/rules-holder.js';
import { redactSecrets } from './util/redact.js';

// `perch replay … | head` closes our stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok);
  throw err;
});

const DEFAULT_CONFIG = 'perch.yaml';

const program = new Command()
  .name('perch')
  .description('Node-local companion to Falco: enriches, correlates and delivers Falco alerts.')
  .version('0.1.0');

const run = program
  .command('run', { isDefault: true })
  .description('run the agent (HTTP input on :2804 unless configured otherwise)');
for (const name of Object.keys(RUN_FLAGS) as RunFlagName[]) run.addOption(runFlagOption(name));
exitOnUsageError(run, EXIT.invalidConfig);
run.action(async (flags: RunFlags) => {
  const checked = await validateStartup({
    ...(flags.config ? { path: flags.config } : {}),
    overrides: (tree) => applyRunFlags(tree, flags),
  });
  const config = startableOrExit(checked, flags.config);
  const log = createLogger(config.log.level);
  const sinks = describeSinks(config, checked.consoleByDefault);
  log[sinks.level]({ sinks: Object.keys(config.sinks) }, sinks.message);
  let agent: Agent;
  try {
    agent = new Agent(config, { stdout: process.stdout, stdin: process.stdin }, log);
  } catch (err) {
    exitCannotStart(err, log);
  }
  // SIGHUP reloads the rules without losing dedup or correlation state, as daemons do.
  process.on('SIGHUP', () => agent.rules.reload('SIGHUP'));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(EXIT.secondSignal);
    }
    void agent.stop(signal).then((result) => process.exit(exitCode(result)));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await agent.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'cannot start');
    process.exit(EXIT.failed);
  }
  await agent.finished;
  process.exit(exitCode(await agent.stop('every source has ended')));
});

const replay = program
  .command('replay <file>')
  .description('run the pipeline offline over a JSON-lines file and print what would be sent')
  .option('--json', 'print one JSON object per alert (the summary goes to stderr)')
  .addOption(
    runFlagOption('pods', 'enrich from a dump: kubectl get pods,runtimeclasses -o json > cluster.json'),
  )
  .addOption(
    runFlagOption(
      'config',
      'perch.yaml, for its rules and kubernetes settings (label allowlist, isolation map)',
    ),
  )
  .action(async (file: string, flags: { json?: boolean; pods?: string; config?: string }) => {
    const checked = await validateStartup({
      ...(flags.config ? { path: flags.config } : {}),
      overrides: (tree) =>
        applyRunFlags(tree, {
          ...(flags.config ? { config: flags.config } : {}),
          ...(flags.pods ? { pods: flags.pods } : {}),
        }),
      scope: 'replay',
    });
    const config = startableOrExit(checked, flags.config);
    const log = createLogger('warn');
    try {
      const summary = await replayFile(file, { json: flags.json === true, out: process.stdout, log, config });
      process.stderr.write(`${formatReplaySummary(file, summary)}\n`);
      if (flags.json) process.stderr.write(`${stringifyExact({ summary })}\n`);
      if (summary.events === 0) {
        process.stderr.write(`perch replay: no line of ${file} is a Falco alert\n`);
        process.exitCode = EXIT.failed;
      }
    } catch (err) {
      if (err instanceof RulesError) {
        process.stderr.write(`perch: ${err.message}\n`);
        process.exitCode = EXIT.invalidConfig;
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code !== 'string') throw err;
      process.stderr.write(`perch replay: cannot read ${file} (${code})\n`);
      process.exitCode = EXIT.failed;
    }
  });

exitOnUsageError(replay, EXIT.invalidConfig);

const check = program
  .command('check')
  .description(
    'check perch.yaml as perch run would start with it: list every problem, exit 1 if there is any',
  )
  .addOption(runFlagOption('config', 'perch.yaml').default(DEFAULT_CONFIG))
  .action(async (flags: { config: string }, command: Command) => {
    const missing = missingDefaultConfig(flags.config, command);
    if (missing) {
      process.stderr.write(`perch check: ${missing}\n`);
      process.exitCode = EXIT.failed;
      return;
    }
    const checked = await validateStartup({ path: flags.config });
    for (const warning of checked.warnings) process.stderr.write(`warning: ${warning}\n`);
    if (!checked.config) {
      process.stderr.write(
        `perch check: ${countProblems(checked.groups)} problem(s) in ${flags.config}\n${formatProblemGroups(checked.groups)}\n`,
      );
      process.exitCode = EXIT.failed;
      return;
    }
    const { config, rules } = checked;
    const sinks = describeSinks(config, checked.consoleByDefault);
    const ruleCounts = rules
      ? `${rules.rules} rules and ${rules.correlations} correlations from ${rules.files} file(s)`
      : 'no rules';
    process.stdout.write(
      `${flags.config}: OK (listen ${config.server.listen.host}:${config.server.listen.port}; ${ruleCounts})\n${sinks.message}\n`,
    );
  });

exitOnUsageError(check, EXIT.failed);

const testSinkCommand = program
  .command('test-sink <name>')
  .description('send a test alert to one sink of perch.yaml and report what the destination answered')
  .addOption(runFlagOption('config', 'perch.yaml').default(DEFAULT_CONFIG))
  .option('--namespace <name>', "the test alert's namespace, for a sink that takes only some namespaces")
  .action(async (name: string, flags: { config: string; namespace?: string }, command: Command) => {
    const missing = missingDefaultConfig(flags.config, command);
    if (missing) {
      process.stderr.write(`perch test-sink: ${missing}\n`);
      process.exit(EXIT.invalidConfig);
    }
    const checked = await validateStartup({ path: flags.config, scope: 'test-sink' });
    const config = startableOrExit(checked, flags.config);
    const result = await testSink(config, name, {
      log: createLogger('warn'),
      progress: (line) => process.stderr.write(`${line}\n`),
      ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    });
    (result.ok ? process.stdout : process.stderr).write(`${result.message}\n`);
    process.exitCode = result.ok ? EXIT.ok : EXIT.failed;
  });

exitOnUsageError(testSinkCommand, EXIT.invalidConfig);

const HUB_LISTEN = '0.0.0.0:2805';

const hubCommand = program
  .command('hub')
  .description(
    'run the hub: cluster-wide dedup, digests, correlations and delivery for the alerts agents forward (sink type hub); leader-elected on a Kubernetes Lease',
  )
  .addOption(
    runFlagOption(
      'config',
      'hub.yaml: the same schema as perch.yaml (rules, sinks, delivery, log, server, hub)',
    ),
  )
  .option(
    '--listen <host:port>',
    `server.listen: where agents post and /readyz answers (default ${HUB_LISTEN})`,
  )
  .action(async (flags: { config?: string; listen?: string }) => {
    const checked = await validateStartup({
      ...(flags.config ? { path: flags.config } : {}),
      overrides: (tree) => {
        tree.server ??= {};
        const server = tree.server as Record<string, unknown>;
        if (flags.listen !== undefined) server.listen = flags.listen;
        else server.listen ??= HUB_LISTEN;
      },
      scope: 'hub',
    });
    for (const warning of checked.warnings) process.stderr.write(`warning: ${warning}\n`);
    const config = startableOrExit(checked, flags.config);
    const log = createLogger(config.log.level);
    let hub: Hub;
    try {
      hub = new Hub(config, {
        stdout: process.stdout,
        log,
        onLostLeadership: () => {
          // As client-go's users do: a replica that may no longer lead ends; its restart is a standby.
          log.error('lost the lease: exiting so that this replica restarts as a standby');
          process.exit(EXIT.failed);
        },
      });
    } catch (err) {
      exitCannotStart(err, log);
    }
    process.on('SIGHUP', () => hub.rules.reload('SIGHUP'));
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) process.exit(EXIT.secondSignal);
      void hub.stop(signal).then(() => process.exit(EXIT.ok));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    try {
      await hub.start();
    } catch (err) {
      log.fatal({ err: redactSecrets(String((err as Error).message ?? err)) }, 'cannot start');
      await hub.stop('start failed').catch(() => undefined);
      process.exit(EXIT.failed);
    }
  });

exitOnUsageError(hubCommand, EXIT.invalidConfig);

program
  .command('demo')
  .description('start the agent on bundled Falco alerts and show what it does with them')
  .action(async () => {
    process.exitCode = await runDemo({ out: process.stdout, log: createLogger('warn') });
  });

/**
 * An unknown flag or a missing argument is an invalid invocation: exit with the command's code for
 * invalid configuration (commander's own is 1, which for `run` means that start failed).
 */
/** A role that failed to start: a rules file that changed since it was checked is the user's to fix (2). */
function exitCannotStart(err: unknown, log: ReturnType<typeof createLogger>): never {
  if (err instanceof RulesError) {
    process.stderr.write(`perch: ${err.message}\n`);
    process.exit(EXIT.invalidConfig);
  }
  log.fatal({ err: (err as Error).message }, 'cannot start');
  process.exit(EXIT.failed);
}

function exitOnUsageError(command: Command, code: number): void {
  command.exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : code));
}

/** README's exit-code table: 0 nothing lost, 3 alerts lost at shutdown (the log line counts them). */
function exitCode(result: StopResult): number {
  return result.clean ? EXIT.ok : EXIT.alertsLost;
}

/** The configuration to start with, or every problem on stderr and exit 2. */
function startableOrExit(checked: StartupValidation, path: string | undefined): PerchConfig {
  if (checked.config) return checked.config;
  const where = path ? `in ${path}` : 'from the flags';
  process.stderr.write(
    `perch: invalid configuration ${where} (${countProblems(checked.groups)} problem(s)); not starting\n${formatProblemGroups(checked.groups)}\n`,
  );
  process.exit(EXIT.invalidConfig);
}

/** A clear sentence when the file was not named and ./perch.yaml does not exist. */
function missingDefaultConfig(path: string, command: Command): string | undefined {
  if (command.getOptionValueSource('config') !== 'default' || existsSync(path)) return undefined;
  return `no ${DEFAULT_CONFIG} in ${process.cwd()}: name the file with -c FILE`;
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // What nothing expected (a sink that cannot be built) would be printed by Node with every property
  // of the error, and `new URL` puts the whole URL, password included, in its `input`.
  process.stderr.write(`perch: ${redactSecrets(inspect(err))}\n`);
  process.exit(EXIT.failed);
}
