// What the kubelet does with two kinds of container env that the manifests use to size V8's heap:
// a resourceFieldRef (a container's request or limit, divided by a divisor and rounded up) and
// $(NAME) references to variables defined earlier in the same list.

const SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  m: 1e-3,
};

/** A Kubernetes quantity ("256Mi", "1", "500m") as a number of base units (bytes, cores). */
export function quantity(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text.trim());
  const factor = match ? SUFFIXES[match[2] ?? ''] : undefined;
  if (!match || factor === undefined)
    throw new Error(`quantity "${text}": expected a number and a unit such as Mi`);
  return Number(match[1]) * factor;
}

export interface ResourceFieldRef {
  containerName?: string;
  resource: string;
  divisor?: string;
}

/** The value a resourceFieldRef gives: the resource divided by the divisor (default 1), rounded up. */
export function resourceFieldValue(
  resources: { limits?: Record<string, string>; requests?: Record<string, string> } | undefined,
  ref: ResourceFieldRef,
): string {
  const [kind, name] = ref.resource.split('.') as [string, string];
  const set = kind === 'limits' ? resources?.limits : kind === 'requests' ? resources?.requests : undefined;
  const value = set?.[name];
  // Without a limit the kubelet gives the node's allocatable amount, which a sandbox cannot know.
  if (value === undefined)
    throw new Error(`resourceFieldRef ${ref.resource}: the container sets no such value`);
  return String(Math.ceil(quantity(value) / quantity(ref.divisor ?? '1')));
}

/** $(NAME) replaced by the value of a variable defined before; $$ escapes; an unknown name stays as it is. */
export function expandReferences(value: string, defined: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) =>
    whole === '$$' ? '$' : name !== undefined && name in defined ? (defined[name] as string) : whole,
  );
}
