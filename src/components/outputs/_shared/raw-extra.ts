// The members a record's raw JSON line lacks: input metadata (`file`, `kubernetes`) that a parser
// merged beside the line (LogRecord.rawExtra). Outputs write the raw line and these members after
// it instead of building `appendRawExtra`'s string per record. Every record of a file carries its
// own `file` object with the same path: the text of the last one-key value is reused while the
// value stays equal (a flat object compared pair by pair, nothing kept by reference).

import type { Fields } from '../../../core/record.js';

export class RawExtraText {
  private key: string | undefined;
  private values: unknown[] = [];
  private text = '';
  private lastMembers = '';
  private lastClosing = '}';

  /** `skip`: keys never written (the fields an output turns into labels). */
  constructor(private readonly skip: readonly string[] = []) {}

  /**
   * `,"key":value` for each of `keys` whose value in `fields` is not undefined and serialises,
   * and that is not in `skip`: what appendRawExtra adds to a non-empty object's text.
   */
  members(fields: Fields, keys: readonly string[]): string {
    if (keys.length === 1 && keys[0] === this.key && flatEquals(fields[this.key], this.values))
      return this.text;
    let s = '';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = fields[k];
      if (v === undefined || this.skip.includes(k)) continue;
      const text = JSON.stringify(v);
      if (text === undefined) continue;
      s += ',' + JSON.stringify(k) + ':' + text;
    }
    if (keys.length === 1) {
      const values = flatValues(fields[keys[0]]);
      this.key = values === undefined ? undefined : keys[0];
      this.values = values ?? [];
      this.text = s;
    }
    return s;
  }

  /** `members + '}'`, one string per distinct members text (not one per record). */
  closing(members: string): string {
    if (members !== this.lastMembers) {
      this.lastMembers = members;
      this.lastClosing = members + '}';
    }
    return this.lastClosing;
  }
}

/**
 * A plain object's own (key, value) pairs, flattened, when every value is a string, finite number
 * or boolean (at most 8 keys): what fixes its JSON text. Undefined for anything else.
 */
export function flatValues(v: unknown): unknown[] | undefined {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype)
    return undefined;
  const out: unknown[] = [];
  for (const k in v) {
    if (!Object.hasOwn(v, k)) return undefined;
    const x = (v as Fields)[k];
    const t = typeof x;
    if (!(t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(x))))
      return undefined;
    if (out.length === 16) return undefined;
    out.push(k, x);
  }
  return out;
}

/** `v` is a plain object with exactly the pairs `values` (flatValues of an earlier one), in order. */
export function flatEquals(v: unknown, values: readonly unknown[]): boolean {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype)
    return false;
  let i = 0;
  for (const k in v) {
    if (i === values.length || values[i] !== k || values[i + 1] !== (v as Fields)[k]) return false;
    if (!Object.hasOwn(v, k)) return false;
    i += 2;
  }
  return i === values.length;
}
