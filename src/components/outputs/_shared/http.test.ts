import { describe, expect, it } from 'vitest';
import { plainHttpWarning } from './http.js';

describe('plainHttpWarning (#17.13)', () => {
  it('warns for credentials over http, not over https or without credentials', () => {
    expect(plainHttpWarning('http://loki:3100', { authorization: 'Basic x' })).toMatch(
      /credentials \(authorization\) are sent over plain http/,
    );
    expect(plainHttpWarning('http://loki:3100', { 'X-Api-Key': 'k' })).toMatch(/X-Api-Key/);
    expect(plainHttpWarning('https://loki', { authorization: 'Basic x' })).toBeUndefined();
    expect(plainHttpWarning('http://loki:3100', { 'user-agent': 'shiplog' })).toBeUndefined();
  });
});
