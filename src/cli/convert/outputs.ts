// Outputs (loki, es/opensearch, s3, stdout) and [SERVICE]. Secrets (HTTP_Passwd, bearer tokens,
// Cloud_Auth) are never copied: they become `${ENV}` references and the report names the variable.

import { accessor, literal, type Conv, type Obj } from './context.js';
import { at, bool, list, seconds, size, type Entry, type Section } from './model.js';

const OUTPUT_NOTES: Record<string, [string, string?]> = {
  retry_limit: [
    'shiplog retries retryable failures with backoff until delivered (records are never dropped after N tries); permanent rejections go to data_dir/dead_letter/<id>.ndjson',
    'set retry.max_elapsed to give up after a time instead',
  ],
  'storage.total_limit_size': ['see buffer.max_size'],
  net_keepalive: ['connections are kept alive'],
  'net.keepalive': ['connections are kept alive'],
  'net.connect_timeout': ['see timeout'],
  trace_error: ['rejected documents are written with their reason to the dead-letter file'],
  trace_output: ['see the dead-letter file and metrics'],
  buffer_size: ['responses are read whole'],
  suppress_type_name: ['shiplog never sends _type (Elasticsearch 8 rejects it)'],
  replace_dots: ['shiplog sends field names as they are (Elasticsearch ≥ 2 accepts dots)'],
  json_date_key: ['shiplog adds no date field to JSON lines'],
  json_date_format: ['shiplog adds no date field to JSON lines'],
};

/** A secret value: keep an `${ENV}` reference as is, else name a variable and report. */
function secret(c: Conv, e: Entry, id: string, what: string): string {
  const v = e.value.trim();
  if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(v)) return v;
  const name = `${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${what}`;
  c.report.add(
    at(e),
    'warning',
    `${e.rawKey} (value not shown)`,
    'a secret written inline in the Fluent Bit config; it was not copied into the shiplog config',
    `export ${name} with the value (from a Kubernetes Secret or a systemd credential), or use the *_file option`,
  );
  return `\${${name}}`;
}

function url(c: Conv, s: Section, dflt: { host: string; port: number }): string {
  const tls = bool(c.value(s, 'tls'), false);
  const host = c.value(s, 'host') ?? dflt.host;
  const port = c.value(s, 'port') ?? String(dflt.port);
  const p = c.value(s, 'path') ?? c.value(s, 'uri') ?? '';
  return `${tls ? 'https' : 'http'}://${host}:${port}${p.replace(/\/loki\/api\/v1\/push\/?$/, '')}`;
}

/** The HTTP outputs' shared `tls` (verify on by default). */
function tlsOptions(c: Conv, s: Section): Obj | undefined {
  const t: Obj = {};
  const ca = c.value(s, 'tls.ca_file');
  if (ca) t.ca_file = ca;
  const crt = c.value(s, 'tls.crt_file');
  if (crt) t.cert_file = crt;
  const key = c.value(s, 'tls.key_file');
  if (key) t.key_file = key;
  const vhost = c.value(s, 'tls.vhost');
  if (vhost) t.server_name = vhost;
  const v = c.use(s, 'tls.verify');
  if (v && !bool(v.value, true)) {
    t.verify = false;
    c.report.add(
      at(v),
      'warning',
      `${v.rawKey} ${v.value}`,
      'certificate verification stays off as configured',
      'give the CA (tls.ca_file) and turn verification on',
    );
  }
  for (const e of c.useAll(s, 'tls.key_passwd'))
    c.report.add(
      at(e),
      'warning',
      `${e.rawKey} (value not shown)`,
      'encrypted client keys are not supported',
      'decrypt the key into a file readable only by shiplog',
    );
  return Object.keys(t).length ? t : undefined;
}

function common(c: Conv, s: Section, o: Obj): void {
  const limit = c.value(s, 'storage.total_limit_size');
  if (limit && size(limit)) o.buffer = { max_size: size(limit) };
  const workers = c.value(s, 'workers');
  if (workers && /^\d+$/.test(workers) && o.type !== 'stdout' && o.type !== 's3')
    o.workers = Math.max(1, Number(workers));
}

export function convertOutput(c: Conv, s: Section, match: string | string[], index: number): void {
  const type = {
    loki: 'loki',
    es: 'elasticsearch',
    opensearch: 'elasticsearch',
    s3: 's3',
    stdout: 'stdout',
  }[s.plugin];
  if (!type) {
    c.report.add(
      at(s),
      'error',
      `[OUTPUT] ${s.plugin || '(no Name)'}`,
      `shiplog has no ${s.plugin} output (outputs: loki, elasticsearch, s3, stdout); it was not converted`,
      'send to one of those, or keep Fluent Bit for this destination',
    );
    return;
  }
  const id = c.id(c.value(s, 'alias') ?? `${s.plugin}_${index}`);
  const o: Obj = { type, id, match };
  if (type === 'loki') loki(c, s, o, id);
  else if (type === 'elasticsearch') es(c, s, o, id);
  else if (type === 's3') s3(c, s, o);
  else stdout(c, s, o);
  common(c, s, o);
  if (c.flushSeconds && (type === 'loki' || type === 'elasticsearch'))
    o.batch = { ...(o.batch as Obj | undefined), max_wait: c.flushSeconds };
  c.outputs.push({ obj: o, origin: c.origin(s) });
  c.noted(s, OUTPUT_NOTES);
  c.leftovers(s, `the ${type} output`);
}

function loki(c: Conv, s: Section, o: Obj, id: string): void {
  o.url = url(c, s, { host: '127.0.0.1', port: 3100 });
  const labels: Obj = {};
  const labelEntry = c.use(s, 'labels');
  const keys = c.use(s, 'label_keys');
  const items = [...(labelEntry ? list(labelEntry.value) : []), ...(keys ? list(keys.value) : [])];
  if (!labelEntry && !keys) labels.job = 'fluent-bit'; // Fluent Bit's default
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq >= 0 ? item.slice(0, eq).trim() : undefined;
    const value = eq >= 0 ? item.slice(eq + 1).trim() : item;
    const field = value.startsWith('$') ? accessor(value) : undefined;
    if (value.startsWith('$') && !field) {
      c.report.add(
        at(labelEntry ?? keys!),
        'warning',
        `label ${item}`,
        'record accessor not understood',
        'add the label by hand',
      );
      continue;
    }
    // Fluent Bit names a label from a record accessor by joining its keys: $k['a'] → k_a.
    const labelName = name ?? (field ? field.split('.').join('_') : value);
    labels[labelName.replace(/[^A-Za-z0-9_]/g, '_')] = field ? `{${field}}` : literal(value);
  }
  o.labels = labels;
  const sm = c.value(s, 'structured_metadata');
  if (sm)
    o.structured_metadata = list(sm)
      .map((x) => x.replace(/^[^=]*=/, ''))
      .map((x) => accessor(x) ?? x);
  const tenant = c.value(s, 'tenant_id');
  if (tenant) o.tenant = literal(tenant);
  const tenantKey = c.value(s, 'tenant_id_key');
  if (tenantKey) o.tenant = `{${accessor(tenantKey) ?? tenantKey}}`;
  const user = c.value(s, 'http_user');
  const pw = c.use(s, 'http_passwd');
  const bearer = c.use(s, 'bearer_token');
  if (user || pw) {
    const auth: Obj = { type: 'basic' };
    if (user) auth.user = user;
    if (pw) auth.password = secret(c, pw, id, 'PASSWORD');
    o.auth = auth;
    if (bearer)
      c.report.add(
        at(bearer),
        'warning',
        `${bearer.rawKey} (value not shown)`,
        'basic auth (http_user/http_passwd) and a bearer token are both set: basic auth is used',
        'keep one of them',
      );
  } else if (bearer) o.auth = { type: 'bearer', token: secret(c, bearer, id, 'TOKEN') };
  const lf = c.use(s, 'line_format');
  if (lf && lf.value.toLowerCase() === 'key_value')
    c.report.add(
      at(lf),
      'warning',
      `${lf.rawKey} ${lf.value}`,
      'shiplog sends the record as JSON (or one field as the line); key_value has no equivalent',
      'query with | json instead of | logfmt',
    );
  const drop = c.use(s, 'drop_single_key');
  if (drop && bool(drop.value, false)) {
    o.line_format = 'message';
    o.message_field = 'log';
    c.report.add(
      at(drop),
      'info',
      `${drop.rawKey} ${drop.value}`,
      "line_format message sends the log field as the line, unquoted (drop_single_key raw; Fluent Bit's on sends it JSON-quoted); records without it are sent as JSON",
      'set message_field if the remaining key is not log',
    );
  }
  const remove = c.use(s, 'remove_keys');
  if (remove) {
    // Fields used by labels must survive until the output renders them (shiplog leaves label
    // fields out of the line itself); a parent of a label field cannot be removed before either.
    const labelFields = Object.values(labels)
      .map((v) => /^\{([^{}]+)\}$/.exec(String(v))?.[1])
      .filter((x): x is string => !!x);
    const fields = list(remove.value).map((k) => accessor(k) ?? k);
    const keep = fields.filter((f) => labelFields.some((l) => l === f || l.startsWith(f + '.')));
    const drop = fields.filter((f) => !keep.includes(f));
    if (drop.length)
      c.filters.push({
        obj: { type: 'modify', id: c.id(`${id}_remove_keys`), match: o.match, remove: drop },
        origin: `${c.origin(s)} remove_keys`,
      });
    if (drop.length)
      c.report.add(
        at(remove),
        'info',
        `${remove.rawKey} ${drop.join(', ')}`,
        'a modify filter removes these fields for every output matching the same tags (filters run before the fan-out)',
        'give other outputs their own tags if they need the fields',
      );
    for (const k of keep)
      c.report.add(
        at(remove),
        labelFields.includes(k) ? 'info' : 'warning',
        `${remove.rawKey} ${k}`,
        labelFields.includes(k)
          ? 'a label field: shiplog leaves it out of the line already'
          : `labels use fields under ${k}: it cannot be removed before the output renders them, so the line keeps ${k} (without the label fields)`,
        labelFields.includes(k)
          ? ''
          : `list the fields under ${k} to drop (modify remove: [${k}.labels, …])`,
      );
  }
  const akl = c.use(s, 'auto_kubernetes_labels');
  if (akl && bool(akl.value, false))
    c.report.add(
      at(akl),
      'warning',
      `${akl.rawKey} ${akl.value}`,
      'pod labels are not all turned into stream labels (an unbounded label set)',
      'name the labels you query on, e.g. labels: { app: "{kubernetes.labels.app}" }',
    );
  const tls = tlsOptions(c, s);
  if (tls) o.tls = tls;
  c.use(s, 'tls');
  c.use(s, 'host');
  c.use(s, 'port');
  c.use(s, 'uri');
}

function es(c: Conv, s: Section, o: Obj, id: string): void {
  o.url = url(c, s, { host: '127.0.0.1', port: 9200 });
  if (bool(c.value(s, 'logstash_format'), false)) {
    const prefix = c.value(s, 'logstash_prefix') ?? 'logstash';
    const key = c.value(s, 'logstash_prefix_key');
    const sep = c.value(s, 'logstash_prefix_separator') ?? '-';
    const date = c.value(s, 'logstash_dateformat') ?? '%Y.%m.%d';
    o.index = `${key ? `{${accessor(key) ?? key}}` : literal(prefix)}${sep}${date}`;
  } else {
    const idx = c.value(s, 'index') ?? 'fluent-bit';
    o.index = literal(idx);
  }
  const idKey = c.value(s, 'id_key');
  const gen = c.use(s, 'generate_id');
  if (idKey) o.document_id = `{${accessor(idKey) ?? idKey}}`;
  else {
    o.document_id = 'auto';
    if (!gen || !bool(gen.value, false))
      c.report.add(
        at(gen ?? s),
        'info',
        gen ? `${gen.rawKey} ${gen.value}` : 'Generate_ID (default Off)',
        "shiplog derives document ids from the record's source position (file identity + offset, journal cursor), so a resend never duplicates; Fluent Bit lets Elasticsearch choose ids",
        'set document_id: none to let Elasticsearch choose',
      );
  }
  const tk = c.value(s, 'time_key');
  if (tk) o.time_key = tk;
  const op = c.use(s, 'write_operation');
  if (op) {
    const v = op.value.toLowerCase();
    if (v === 'create' || v === 'index') o.action = v;
    else
      c.report.add(
        at(op),
        'warning',
        `${op.rawKey} ${op.value}`,
        'update/upsert have no equivalent (create or index)',
        '',
      );
  }
  const pipeline = c.value(s, 'pipeline');
  if (pipeline) o.pipeline = pipeline;
  if ((c.value(s, 'compress') ?? '').toLowerCase() === 'gzip') o.compression = 'gzip';
  const user = c.value(s, 'http_user');
  const pw = c.use(s, 'http_passwd');
  if (user || pw)
    o.auth = {
      type: 'basic',
      ...(user ? { user } : {}),
      ...(pw ? { password: secret(c, pw, id, 'PASSWORD') } : {}),
    };
  const apiKey = c.use(s, 'http_api_key');
  if (apiKey) o.auth = { type: 'api_key', api_key: secret(c, apiKey, id, 'API_KEY') };
  const tls = tlsOptions(c, s);
  if (tls) o.tls = tls;
  const type = c.use(s, 'type');
  if (type)
    c.report.add(
      at(type),
      'info',
      `${type.rawKey} ${type.value}`,
      'mapping types are gone since Elasticsearch 7; shiplog never sends _type',
      '',
    );
  for (const k of ['cloud_id', 'cloud_auth', 'aws_auth', 'aws_region', 'aws_role_arn'])
    for (const e of c.useAll(s, k))
      c.report.add(
        at(e),
        'warning',
        `${e.rawKey}${k.includes('auth') ? ' (value not shown)' : ' ' + e.value}`,
        'no equivalent (Elastic Cloud ids, AWS SigV4 signing)',
        'use the cluster URL with basic or API-key auth',
      );
  for (const k of ['include_tag_key', 'tag_key', 'current_time_index'])
    for (const e of c.useAll(s, k))
      c.report.add(
        at(e),
        'warning',
        `${e.rawKey} ${e.value}`,
        'no equivalent',
        k === 'current_time_index'
          ? 'the index date is the record time'
          : 'add the tag with enrich add: { tag: "{tag}" } if needed',
      );
  for (const k of [
    'tls',
    'host',
    'port',
    'path',
    'logstash_format',
    'logstash_prefix',
    'logstash_prefix_key',
    'logstash_prefix_separator',
    'logstash_dateformat',
    'index',
    'id_key',
    'time_key',
    'time_key_format',
    'compress',
    'http_user',
  ])
    c.use(s, k);
}

function s3(c: Conv, s: Section, o: Obj): void {
  const bucket = c.value(s, 'bucket');
  o.bucket = bucket ?? '${S3_BUCKET}';
  if (!bucket) c.report.add(at(s), 'error', '[OUTPUT] s3', 'no bucket', 'set S3_BUCKET');
  const region = c.value(s, 'region');
  if (region) o.region = region;
  const endpoint = c.value(s, 'endpoint');
  if (endpoint) {
    o.endpoint = endpoint;
    o.force_path_style = true;
  }
  const batch: Obj = {};
  const total = c.value(s, 'total_file_size');
  if (total && size(total)) batch.max_bytes = size(total);
  const up = c.value(s, 'upload_timeout');
  if (up && seconds(up)) batch.max_wait = seconds(up);
  if (Object.keys(batch).length) o.batch = batch;
  const comp = (c.value(s, 'compression') ?? 'none').toLowerCase();
  if (comp === 'gzip') o.compression = 'gzip';
  else {
    o.compression = 'none';
    if (comp !== 'none')
      c.report.add(
        at(s),
        'warning',
        `compression ${comp}`,
        'shiplog writes gzip or plain NDJSON (no arrow/parquet)',
        'use gzip',
      );
  }
  const fmt = c.use(s, 's3_key_format');
  let key = fmt?.value ?? '/fluent-bit-logs/$TAG/%Y/%m/%d/%H/%M/%S';
  key = key
    .replace(/^\/+/, '')
    .replace(/\$TAG\[(\d+)\]/g, '{tag[$1]}')
    .replace(/\$TAG/g, '{tag}')
    .replace(/\$UUID/g, '{uuid}');
  if (key.includes('$INDEX')) {
    key = key.replace(/\$INDEX/g, '{uuid}');
    c.report.add(
      at(fmt!),
      'info',
      's3_key_format $INDEX',
      'replaced by {uuid} (no per-agent sequence number)',
      '',
    );
  }
  if (!key.includes('{uuid}')) {
    key += '-{uuid}';
    c.report.add(
      at(fmt ?? s),
      'info',
      fmt ? `${fmt.rawKey} ${fmt.value}` : 's3_key_format (default)',
      'shiplog object keys must be unique per object: -{uuid} was appended (Fluent Bit appends a random suffix too)',
      '',
    );
  }
  o.key = key;
  const sc = c.value(s, 'storage_class');
  if (sc) o.storage_class = sc;
  const acl = c.value(s, 'canned_acl');
  if (acl) o.acl = acl;
  for (const k of ['role_arn', 'sts_endpoint', 'external_id', 'profile'])
    for (const e of c.useAll(s, k))
      c.report.add(
        at(e),
        'warning',
        `${e.rawKey} ${e.value}`,
        'credentials come from the AWS default chain (env, profile, web identity/IRSA, instance metadata); assuming a role by ARN is not an option',
        'grant the role to the node/pod (IRSA) or set AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE',
      );
  c.noted(s, {
    store_dir: ['records wait in the output queue under service.data_dir'],
    use_put_object: ['large objects use multipart upload automatically'],
    upload_chunk_size: ['multipart parts are 8 MiB'],
    content_type: ['objects are NDJSON (application/x-ndjson)'],
    send_content_md5: ['request checksums (CRC32) are sent'],
    static_file_path: ['keys always end in a unique {uuid}'],
    json_date_key: ['shiplog adds no date field; records keep their own fields'],
  });
  c.report.add(
    at(s),
    'info',
    '[OUTPUT] s3',
    'objects are NDJSON of the record fields; Fluent Bit adds a "date" field to each line (json_date_key)',
    '',
  );
  for (const k of [
    'bucket',
    'region',
    'endpoint',
    'total_file_size',
    'upload_timeout',
    'compression',
    'storage_class',
    'canned_acl',
  ])
    c.use(s, k);
}

function stdout(c: Conv, s: Section, o: Obj): void {
  const f = c.use(s, 'format');
  const v = (f?.value ?? 'msgpack').toLowerCase();
  o.format = 'json';
  if (!['json_lines', 'json', 'json_stream'].includes(v))
    c.report.add(
      at(f ?? s),
      'info',
      f ? `${f.rawKey} ${f.value}` : 'Format (default msgpack)',
      "shiplog prints JSON lines (or logfmt/text); Fluent Bit's msgpack debug dump has no equivalent",
      '',
    );
  const dk = c.use(s, 'json_date_key');
  if (!dk || bool(dk.value, true) !== false)
    c.report.add(
      at(dk ?? s),
      'info',
      dk ? `${dk.rawKey} ${dk.value}` : 'json_date_key (default date)',
      'shiplog prints the record without a date field',
      '',
    );
  c.use(s, 'json_date_format');
}
