// Push bodies: logproto.PushRequest bytes (snappy-compressed by the caller) or the JSON push API.

import type { Push } from './push.js';
import { nsString } from './time.js';
import { writePushRequest } from './wire.js';

/**
 * logproto.PushRequest bytes in a reused buffer, valid until the next call: compress or copy them
 * at once (the hot path snappy-compresses them synchronously). Written by wire.ts; the protobufjs
 * definition in logproto.ts is the reference it is tested against.
 */
export function encodeProtobufView(push: Push): Buffer {
  return writePushRequest(push.streams);
}

/** logproto.PushRequest bytes (a copy the caller owns). */
export function encodeProtobuf(push: Push): Uint8Array {
  return Buffer.from(writePushRequest(push.streams));
}

/** The JSON push body: `{"streams":[{"stream":{…},"values":[["<ns>","line",{meta}]]}]}`. */
export function encodeJson(push: Push): string {
  let s = '{"streams":[';
  for (let i = 0; i < push.streams.length; i++) {
    const st = push.streams[i];
    if (i > 0) s += ',';
    s += '{"stream":{';
    for (let j = 0; j < st.pairs.length; j++) {
      if (j > 0) s += ',';
      s += JSON.stringify(st.pairs[j][0]) + ':' + JSON.stringify(st.pairs[j][1]);
    }
    s += '},"values":[';
    for (let j = 0; j < st.entries.length; j++) {
      const e = st.entries[j];
      if (j > 0) s += ',';
      s += '["' + nsString(e.seconds, e.nanos) + '",' + JSON.stringify(e.line);
      if (e.structuredMetadata) {
        s += ',{';
        for (let k = 0; k < e.structuredMetadata.length; k++) {
          const m = e.structuredMetadata[k];
          if (k > 0) s += ',';
          s += JSON.stringify(m.name) + ':' + JSON.stringify(m.value);
        }
        s += '}';
      }
      s += ']';
    }
    s += ']}';
  }
  return s + ']}';
}
