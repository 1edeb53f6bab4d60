// Loki's push protocol (`logproto.PushRequest`, pkg/push/push.proto) with Loki's field numbers,
// as a small protobufjs reflection definition. Only the messages a push needs; gogoproto options
// dropped (they change Go types, not the wire format). `Timestamp` is wire-identical to
// google.protobuf.Timestamp. Parsed from text at module load: no file I/O, nothing to copy to dist.
// The reference (oracle) encoding for tests and the test receiver only: protobufjs is a dev
// dependency, and the output itself writes and reads pushes with wire.ts.

import protobuf from 'protobufjs';

export const LOGPROTO = `
syntax = "proto3";
package logproto;

message PushRequest {
  repeated StreamAdapter streams = 1;
}

message StreamAdapter {
  string labels = 1;                 // selector text: {a="b", c="d"}
  repeated EntryAdapter entries = 2;
  uint64 hash = 3;                   // unused by clients
}

message EntryAdapter {
  Timestamp timestamp = 1;
  string line = 2;
  repeated LabelPairAdapter structuredMetadata = 3;
}

message LabelPairAdapter {
  string name = 1;
  string value = 2;
}

message Timestamp {                  // google.protobuf.Timestamp
  int64 seconds = 1;
  int32 nanos = 2;
}
`;

const root = protobuf.parse(LOGPROTO, { keepCase: true }).root;

export const PushRequest = root.lookupType('logproto.PushRequest');

export interface LabelPair {
  name: string;
  value: string;
}

export interface PushEntry {
  timestamp: { seconds: number; nanos: number };
  line: string;
  structuredMetadata?: LabelPair[];
}

export interface PushStream {
  labels: string;
  entries: PushEntry[];
}

/**
 * Encode a PushRequest (not yet snappy-compressed) with protobufjs: the reference encoding. The
 * output's hot path writes the same bytes with wire.ts (see README "Hot path").
 */
export function encodePushRequest(streams: PushStream[]): Uint8Array {
  return PushRequest.encode({ streams }).finish();
}

/** Decode a PushRequest (already decompressed). int64 seconds come back as numbers. */
export function decodePushRequest(buf: Uint8Array): { streams: PushStream[] } {
  const msg = PushRequest.decode(buf);
  return PushRequest.toObject(msg, { longs: Number, defaults: true, arrays: true }) as {
    streams: PushStream[];
  };
}
