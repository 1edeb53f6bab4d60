// Loki tenants (X-Scope-OrgID): a static tenant is checked at config time, a rendered one per
// record before it is encoded (an invalid header value used to wedge the HTTP pool, #17.1).

/** Loki's tenant id limit (dskit tenant.MaxTenantIDLength). */
export const MAX_TENANT_LENGTH = 150;

/** A static tenant that breaks Loki's rules (a config error). */
export class TenantError extends Error {}

/**
 * Why `t` is not a valid Loki tenant id, or undefined when it is. Loki (dskit ValidTenantID)
 * accepts `[a-zA-Z0-9!_.*'()-]`, at most 150 bytes, not `.` or `..`. A rendered tenant that is
 * empty (the record lacks the field) would send the record without X-Scope-OrgID: refused too.
 */
export function tenantProblem(t: string): string | undefined {
  if (t.length === 0) return 'the tenant template rendered empty (field missing)';
  if (t.length > MAX_TENANT_LENGTH)
    return `longer than ${MAX_TENANT_LENGTH} characters (${t.length})`;
  if (t === '.' || t === '..') return `"${t}" is not allowed`;
  const m = /[^a-zA-Z0-9!_.*'()-]/.exec(t);
  if (m) {
    const c = m[0];
    const code = c.codePointAt(0)!;
    const shown =
      code >= 0x21 && code < 0x7f
        ? `"${c}"`
        : `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return `character ${shown} at ${m.index} (Loki allows letters, digits and !-_.*'())`;
  }
  return undefined;
}
