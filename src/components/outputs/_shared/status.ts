// How an HTTP output reads a status code (the same for every backend; what a 2xx, 400 or 413 body
// means is the output's own):
//
//   2xx ───────────────────────────▶ ok
//   429 / 408 / 5xx ───────────────▶ retry (Retry-After honoured by the sender)
//   413 ───────────────────────────▶ too_large: split the request (one record too large is
//                                    permanent)
//   other 4xx (and 1xx/3xx) ───────▶ permanent: resending cannot help; say what to fix

export type Verdict = 'ok' | 'retry' | 'too_large' | 'permanent';

export function classifyStatus(code: number): Verdict {
  if (code >= 200 && code < 300) return 'ok';
  if (code === 429 || code === 408 || code >= 500) return 'retry';
  if (code === 413) return 'too_large';
  return 'permanent';
}
