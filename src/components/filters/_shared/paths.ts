// Field paths (`a.b.c`) split once at start-up, and safe own-property writes: a log line is
// untrusted input, so a key such as `__proto__` must become data, never a prototype.

import type { Fields } from '../../../core/record.js';

export type Path = readonly string[];

export function compilePath(p: string): Path {
  return p.split('.');
}

/** Read a compiled path (one step is the common case and skips the loop). */
export function get(fields: Fields, path: Path): unknown {
  if (path.length === 1) return fields[path[0]];
  let cur: unknown = fields;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Fields)[path[i]];
  }
  return cur;
}

export function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/** `o[k] = v` that never touches a prototype (JSON.parse yields own `__proto__` keys). */
export function assign(o: Fields, k: string, v: unknown): void {
  if (k === '__proto__') {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else {
    o[k] = v;
  }
}

function isPlainObject(v: unknown): v is Fields {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Set a compiled path, creating intermediate objects (replacing non-objects on the way). */
export function set(fields: Fields, path: Path, value: unknown): void {
  let cur = fields;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    const next = hasOwn(cur, k) ? cur[k] : undefined;
    if (isPlainObject(next)) {
      cur = next;
    } else {
      const created: Fields = {};
      assign(cur, k, created);
      cur = created;
    }
  }
  assign(cur, path[path.length - 1], value);
}

/** Whether a compiled path exists as an own property chain. */
export function has(fields: Fields, path: Path): boolean {
  let cur: unknown = fields;
  for (let i = 0; i < path.length; i++) {
    if (!isPlainObject(cur) || !hasOwn(cur, path[i])) return false;
    cur = cur[path[i]];
  }
  return true;
}

/** Delete a compiled path; returns whether something was removed. */
export function remove(fields: Fields, path: Path): boolean {
  let cur: unknown = fields;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isPlainObject(cur)) return false;
    cur = cur[path[i]];
  }
  if (!isPlainObject(cur)) return false;
  const last = path[path.length - 1];
  if (!hasOwn(cur, last)) return false;
  delete cur[last];
  return true;
}
