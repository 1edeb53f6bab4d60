import { describe, expect, it } from 'vitest';
import { checkTrusted } from './trusted.js';

describe('checkTrusted (#17.11)', () => {
  it.each([
    [['kubernetes.namespace_name'], [], true],
    [['file.path'], [], true],
    [['tenant'], [], false],
    [['kubernetes_namespace'], [], false],
    [['tenant'], ['tenant'], true],
    [['team.name'], ['team'], true],
    [['teams'], ['team'], false],
  ])('%j with trusted_fields %j → allowed %s', (fields, trusted, ok) => {
    const f = () => checkTrusted('tenant', fields, trusted);
    if (ok) expect(f).not.toThrow();
    else expect(f).toThrow(/tenant.*trusted_fields/);
  });
});
