// The part of undici shiplog uses (Pool, Agent, request, the Dispatcher class), for the single-file
// bundle: packaging/bundle.mjs resolves shiplog's `undici` imports to this file. undici's own
// index.js also builds fetch, WebSocket, EventSource, the cache storage, cookies and the mocks
// when it loads: ~700 KB of the bundle's source and several MB of resident memory that a log
// shipper never calls. The objects are undici's own; as in its index.js, the Dispatcher API
// methods (request, stream, ...) are mixed into Dispatcher.prototype, and request() is index.js's
// makeDispatcher(api.request) (undici, MIT licence).

import Dispatcher from 'undici/lib/dispatcher/dispatcher.js';
import Pool from 'undici/lib/dispatcher/pool.js';
import Agent from 'undici/lib/dispatcher/agent.js';
import api from 'undici/lib/api/index.js';
import util from 'undici/lib/core/util.js';
import errors from 'undici/lib/core/errors.js';
import globals from 'undici/lib/global.js';

Object.assign(Dispatcher.prototype, api);

const { InvalidArgumentError } = errors;

function makeDispatcher(fn) {
  return (url, opts, handler) => {
    if (typeof opts === 'function') {
      handler = opts;
      opts = null;
    }
    if (!url || (typeof url !== 'string' && typeof url !== 'object' && !(url instanceof URL))) {
      throw new InvalidArgumentError('invalid url');
    }
    if (opts != null && typeof opts !== 'object') {
      throw new InvalidArgumentError('invalid opts');
    }
    if (opts && opts.path != null) {
      if (typeof opts.path !== 'string') {
        throw new InvalidArgumentError('invalid opts.path');
      }
      let path = opts.path;
      if (!opts.path.startsWith('/')) {
        path = `/${path}`;
      }
      url = new URL(util.parseOrigin(url).origin + path);
    } else {
      if (!opts) {
        opts = typeof url === 'object' ? url : {};
      }
      url = util.parseURL(url);
    }
    const { agent, dispatcher = globals.getGlobalDispatcher() } = opts;
    if (agent) {
      throw new InvalidArgumentError('unsupported opts.agent. Did you mean opts.client?');
    }
    return fn.call(
      dispatcher,
      {
        ...opts,
        origin: url.origin,
        path: url.search ? `${url.pathname}${url.search}` : url.pathname,
        method: opts.method || (opts.body ? 'PUT' : 'GET'),
      },
      handler,
    );
  };
}

export const request = makeDispatcher(api.request);
export { Agent, Dispatcher, Pool };
