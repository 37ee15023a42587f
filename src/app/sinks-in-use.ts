import type { PerchConfig } from '../config/schema.js';

/**
 * One sentence on the sinks in use, logged at start and printed by `perch check`: configuring any
 * sink replaces the default console sink, which surprised users who added a chat sink and saw
 * their terminal go quiet.
 */
export function describeSinks(
  config: PerchConfig,
  consoleByDefault: boolean,
): { level: 'info' | 'warn'; message: string } {
  const names = Object.keys(config.sinks);
  if (names.length === 0)
    return {
      level: 'warn',
      message: 'no sink is configured (sinks is empty): alerts are processed and counted but sent nowhere',
    };
  if (consoleByDefault)
    return { level: 'info', message: 'sinks in use: console (the default: perch.yaml configures no sink)' };
  const hasConsole = Object.values(config.sinks).some((s) => s.type === 'console');
  return {
    level: 'info',
    message: hasConsole
      ? `sinks in use: ${names.join(', ')}`
      : `sinks in use: ${names.join(', ')}; the default console sink is off because sinks are configured (add one of type console to print alerts too)`,
  };
}
