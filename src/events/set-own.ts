/**
 * `record[key] = value`, except that a key named `__proto__` becomes an ordinary own property.
 * Assignment would call the prototype setter instead: an untrusted field of that name would vanish,
 * or (as null or an object) replace what every other lookup on the record falls back to.
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__')
    Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}
