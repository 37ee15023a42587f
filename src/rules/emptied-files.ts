/**
 * The user files that had rules or correlations in the rules in force and have none in the new
 * ones, each as a problem that refuses the reload. A ConfigMap applied from an empty variable, a
 * file truncated by a failed copy or an editor caught mid-save all look like this, and accepting
 * them would silently drop every rule and silence the user wrote.
 */
export function emptiedFileProblems(
  userFiles: readonly string[],
  inForce: ReadonlyMap<string, number>,
  next: ReadonlyMap<string, number>,
): string[] {
  const problems: string[] = [];
  for (const file of new Set(userFiles)) {
    const before = inForce.get(file) ?? 0;
    if (before === 0 || next.get(file) !== 0) continue;
    problems.push(
      `${file}: has no rules or correlations now, but ${before} of the rules in force come from it; ` +
        'an emptied file is refused because it is more often a truncated or half-applied update than a wish ' +
        'to drop every rule and silence. Put the rules back, or to empty it on purpose set ' +
        'rules.allowEmpty: true in perch.yaml (or restart Perch: an empty file is accepted at start)',
    );
  }
  return problems;
}

/** The user files that carry no rules or correlations, to warn about at start. */
export function emptyFiles(userFiles: readonly string[], items: ReadonlyMap<string, number>): string[] {
  return [...new Set(userFiles)].filter((file) => items.get(file) === 0);
}
