/** The exit codes of README's table; scripts and Kubernetes restart policies rely on them. */
export const EXIT = {
  ok: 0,
  /** `run`: start failed (an address in use, say); `check`: problems; `replay`: no alert in the file. */
  failed: 1,
  /** The configuration, a flag or a file it names is invalid: nothing was started. */
  invalidConfig: 2,
  /** `run`: accepted alerts were lost at shutdown (one log line counts them). */
  alertsLost: 3,
  /** `run`: a second SIGTERM/SIGINT cut the drain short. */
  secondSignal: 130,
} as const;
