'use strict';
/* eslint-disable no-undef, @typescript-eslint/no-require-imports -- CommonJS, as undici requires it */
// Stands in for undici's lib/dispatcher/client-h2.js where its client.js requires it (the resolve
// hooks of packaging/lean.mjs and packaging/bundle.mjs): client-h2.js requires node:http2 when it
// loads, and http2 brings tls and OpenSSL's TLS code, ~8 MB of node's executable touched and
// ~13 MB resident on a bare node (issue #22). shiplog never enables allowH2, so the real module
// loads only if an HTTP/2 connection is ever made.

let connectH2;
module.exports = function lazyConnectH2(client, socket) {
  connectH2 ??= require('undici/lib/dispatcher/client-h2.js');
  return connectH2(client, socket);
};
