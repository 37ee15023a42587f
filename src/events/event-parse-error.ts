/** Why an input could not become a FalcoEvent, and where in the input the problem is. */
export class EventParseError extends Error {
  constructor(
    /** JSON path of the offending value, e.g. `priority` or `output_fields["fd.rport"]`; `$` for the whole document. */
    readonly path: string,
    readonly reason: string,
  ) {
    super(path === '$' ? reason : `${path}: ${reason}`);
    this.name = 'EventParseError';
  }
}
