import { setFlagsFromString } from 'node:v8';
import { runInThisContext } from 'node:vm';

// V8's own answer, through its natives syntax: allowed from here on for code compiled after this.
setFlagsFromString('--allow-natives-syntax');
const haveSameMap = runInThisContext('(function (a, b) { return %HaveSameMap(a, b); })') as (
  a: object,
  b: object,
) => boolean;

/** Enough objects from one place for V8 to give its code feedback: a class per object shows after that. */
export const WARM_UP_OBJECTS = 30;

/**
 * Whether V8 gives all these objects one hidden class (map). Objects of one shape built per event
 * should: a class per object costs memory that only a full collection frees, and makes every
 * property read of the stages after megamorphic. Pass WARM_UP_OBJECTS or more from the same code.
 */
export function shareHiddenClass(objects: readonly object[]): boolean {
  return objects.every((object, i) => i === 0 || haveSameMap(objects[i - 1] as object, object));
}
