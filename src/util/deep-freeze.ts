// Objects shared by every alert of a pod (its context, its enrichment) are frozen all the way down,
// so that a sink which tried to change one cannot change them all; what is frozen that way can be
// remembered by identity (rendered text, rule answers, metric series).

/** Freezes `value` and everything it holds; an object already frozen is taken as frozen throughout. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Whether `value` and everything it holds are frozen: only then may something derived from it be kept. */
export function deeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (!Object.isFrozen(value)) return false;
  return Object.values(value).every(deeplyFrozen);
}
