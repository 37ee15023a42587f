/**
 * `compute`, for objects never changed once made, with its last answer kept. For a fact that several
 * stages ask of the same object one after the other (an alert's event as the rules, dedup and each
 * correlation pass it on), where working the answer out again is the costly part.
 */
export function rememberLast<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  let lastKey: K | undefined;
  let lastAnswer: V | undefined;
  return (key) => {
    if (key !== lastKey) {
      lastAnswer = compute(key);
      lastKey = key;
    }
    return lastAnswer as V;
  };
}

/**
 * The same, every answer also kept beside its object: for objects many alerts share (a pod's
 * context), so that the answer is worked out once per object, and the last one found without a
 * WeakMap lookup.
 */
export function rememberEach<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  const answers = new WeakMap<K, V>();
  return rememberLast((key) => {
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = compute(key);
      answers.set(key, answer);
    }
    return answer;
  });
}
