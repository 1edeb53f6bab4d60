// `shiplog tap`: print samples of the records leaving the filters of the running daemon, live,
// from its `/tap` (off unless service.http.tap: true; loopback clients only unless tap_remote).

export interface TapOptions {
  url: string;
  component?: string;
  match?: string;
  /** Stop after this many records. */
  limit?: number;
  /** Records per second the daemon may send (1..1000). */
  rate?: number;
  json: boolean;
}

interface TapLine {
  time: string | null;
  input: string;
  tag: string;
  outputs: string[];
  labels?: Record<string, string>;
  record: unknown;
}

/** Exit 0 (limit reached, interrupted, or the daemon stopped), 1 unreachable or tap off, 2 refused query. */
export async function runTap(
  o: TapOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  onInterrupt: (fn: () => void) => void,
): Promise<number> {
  const base = o.url.replace(/\/+$/, '');
  const q = new URLSearchParams();
  if (o.component !== undefined) q.set('component', o.component);
  if (o.match !== undefined) q.set('match', o.match);
  if (o.rate !== undefined) q.set('rate', String(o.rate));
  const abort = new AbortController();
  onInterrupt(() => abort.abort());
  let res: Response;
  try {
    res = await fetch(`${base}/tap${q.size ? `?${q.toString()}` : ''}`, { signal: abort.signal });
  } catch (e) {
    if (abort.signal.aborted) return 0;
    const error = e as Error & { cause?: { code?: string } };
    err.write(
      `shiplog tap: cannot reach the daemon at ${base} (${error.cause?.code ?? error.message})\n`,
    );
    return 1;
  }
  if (res.status !== 200) {
    err.write(`shiplog tap: ${base}/tap answered ${res.status}: ${(await res.text()).trim()}\n`);
    return res.status === 400 ? 2 : 1;
  }
  let n = 0;
  let rest = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf('\n')) !== -1) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line === '') continue;
        if (o.json) out.write(line + '\n');
        else {
          const t = JSON.parse(line) as TapLine;
          const labels = t.labels ? ` ${JSON.stringify(t.labels)}` : '';
          out.write(
            `${t.time ?? '-'} ${t.input} [${t.tag}]${labels} ${JSON.stringify(t.record)}\n`,
          );
        }
        if (o.limit !== undefined && ++n >= o.limit) {
          abort.abort();
          return 0;
        }
      }
    }
  } catch (e) {
    if (!abort.signal.aborted) {
      err.write(`shiplog tap: the stream ended: ${(e as Error).message}\n`);
      return 1;
    }
  }
  return 0;
}
