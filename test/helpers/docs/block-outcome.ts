/** What became of one documented block. It passes when it ran, or was skipped by a marker, without problems. */
export interface BlockOutcome {
  /** What is wrong: the command failed, its output differs, the snippet is refused, … */
  problems: string[];
  /** Why the block cannot run here: it then needs `<!-- docs-test: skip (reason) -->`. */
  cannotRun: string[];
  /** The perch invocations it ran, for the report. */
  ran: string[];
}
