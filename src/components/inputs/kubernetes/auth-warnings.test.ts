import { describe, expect, it } from 'vitest';
import { authWarnings } from './api.js';

describe('kubernetes API transport warnings (#17.13)', () => {
  it('plain http and insecure_skip_verify are warned, verified https is not', () => {
    expect(authWarnings({ server: 'http://10.0.0.1:8080', insecure: false })).toEqual([
      expect.stringMatching(/plain http/),
    ]);
    expect(authWarnings({ server: 'https://10.0.0.1', insecure: true })).toEqual([
      expect.stringMatching(/insecure_skip_verify/),
    ]);
    expect(authWarnings({ server: 'https://10.0.0.1', insecure: false })).toEqual([]);
  });
});
