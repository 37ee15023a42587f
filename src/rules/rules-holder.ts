import type { RulesConfig } from '../config/schema.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import { emptiedFileProblems, emptyFiles } from './emptied-files.js';
import { type LoadedRules, loadRules } from './load-rules.js';
import { ReplaceableFileWatch } from './replaceable-file-watch.js';
import type { RuleSet } from './rule-set.js';

export class RulesError extends Error {
  constructor(readonly errors: string[]) {
    super(
      `the rules have ${errors.length} problem${errors.length === 1 ? '' : 's'}:\n${errors.map((e) => `  - ${e}`).join('\n')}`,
    );
    this.name = 'RulesError';
  }
}

const RELOAD_DEBOUNCE_MS = 200;

/**
 * The rules in force. Reloads (SIGHUP, or a changed file when `rules.watch` is on) swap the whole
 * rule set at once; a reload with errors, or one that empties a user file that had rules (unless
 * `rules.allowEmpty`), keeps the rules in force and says why. Dedup and correlation state live in
 * the pipeline, not here, so nothing is lost on reload.
 */
export class RulesHolder {
  private ruleSet: RuleSet;
  /** Rules plus correlations per file in the rules in force, to notice a file that was emptied. */
  private itemsInForce: ReadonlyMap<string, number>;
  private watches: ReplaceableFileWatch[] = [];
  private debounce?: NodeJS.Timeout;
  private readonly expressionErrors = new LogLimiter();

  constructor(
    private readonly config: RulesConfig,
    private readonly sinkNames: readonly string[],
    private readonly log: Logger,
    private readonly onReload: (ok: boolean) => void = () => {},
  ) {
    const loaded = this.load();
    if (loaded.errors.length > 0) throw new RulesError(loaded.errors);
    this.ruleSet = loaded.ruleSet;
    this.itemsInForce = loaded.itemsPerFile;
    this.logLoaded(loaded, 'rules loaded');
    if (!config.allowEmpty)
      for (const file of emptyFiles(config.files, loaded.itemsPerFile))
        this.log.warn(
          { file },
          'rules file has no rules or correlations: starting with it; once it has some, a reload that empties it is refused unless rules.allowEmpty is true',
        );
  }

  get current(): RuleSet {
    return this.ruleSet;
  }

  reload(why: string): boolean {
    let loaded: LoadedRules;
    try {
      loaded = this.load();
    } catch (err) {
      // Reloads run from a timer or a signal handler: nothing may escape and take the agent down.
      loaded = {
        ruleSet: this.ruleSet,
        errors: [(err as Error).message],
        warnings: [],
        itemsPerFile: new Map(),
      };
    }
    if (loaded.errors.length === 0 && !this.config.allowEmpty) {
      const emptied = emptiedFileProblems(this.config.files, this.itemsInForce, loaded.itemsPerFile);
      if (emptied.length > 0) loaded = { ...loaded, errors: emptied };
    }
    if (loaded.errors.length > 0) {
      this.log.error({ why, errors: loaded.errors }, 'rules reload failed: keeping the rules in force');
      this.onReload(false);
      return false;
    }
    this.ruleSet = loaded.ruleSet;
    this.itemsInForce = loaded.itemsPerFile;
    this.logLoaded(loaded, `rules reloaded (${why})`);
    this.onReload(true);
    return true;
  }

  /** Reloads when a rules file changes, is replaced or comes back (editor saves, ConfigMap updates). */
  watchFiles(): void {
    if (!this.config.watch) return;
    this.close();
    for (const file of this.ruleSet.sources) {
      try {
        this.watches.push(new ReplaceableFileWatch(file, () => this.scheduleReload(`${file} changed`)));
      } catch (err) {
        this.log.warn({ file, err: (err as Error).message }, 'cannot watch rules file; reload with SIGHUP');
      }
    }
  }

  close(): void {
    clearTimeout(this.debounce);
    this.debounce = undefined;
    for (const w of this.watches) w.close();
    this.watches = [];
  }

  private scheduleReload(why: string): void {
    clearTimeout(this.debounce);
    // A save or a ConfigMap swap is a burst of events: reload once it is over.
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.reload(why);
    }, RELOAD_DEBOUNCE_MS);
    this.debounce.unref();
  }

  private load(): LoadedRules {
    return loadRules({
      config: this.config,
      sinkNames: this.sinkNames,
      onExpressionError: (expr, error) => {
        const suppressed = this.expressionErrors.admit(expr);
        if (suppressed >= 0)
          this.log.warn(
            { expr, error: error.message, suppressed },
            'rule expression failed: treated as no match',
          );
      },
    });
  }

  private logLoaded(loaded: LoadedRules, message: string): void {
    const { ruleSet } = loaded;
    this.log.info(
      { files: ruleSet.sources, rules: ruleSet.rules.length, correlations: ruleSet.correlations.length },
      message,
    );
    for (const warning of loaded.warnings) this.log.warn({ warning }, 'rules warning');
  }
}
