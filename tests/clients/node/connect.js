#!/usr/bin/env node
// Connects the npm `ari-client` (swagger-driven) to an ARI server and reports what it loaded.
//
//   node connect.js URL USER PASSWORD
//
// On success prints one JSON line
//   {"ok":true,"resources":[...],"operations":{"channels":["answer",...],...}}
// (resource and operation names sorted) and exits 0. On failure prints
//   {"ok":false,"error":"..."}
// and exits 1. It never opens the events WebSocket (`client.start()`), and gives up after
// TIMEOUT_MS so it always exits.
'use strict';

const TIMEOUT_MS = 20000;

// stdout carries only the report: swagger-client console.log()s a "deprecated version of
// Swagger" notice for Swagger 1.1 listings, so send console output to stderr.
console.log = (...args) => console.error(...args);
console.info = console.log;

let done = false;

function finish(code, report) {
  if (done) {
    return;
  }
  done = true;
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(code));
}

function fail(err) {
  let message;
  if (err instanceof Error) {
    message = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  } else if (typeof err === 'string') {
    message = err;
  } else {
    try {
      message = JSON.stringify(err);
    } catch (_) {
      message = String(err);
    }
  }
  finish(1, { ok: false, error: message || 'unknown error' });
}

// swagger-client reports a failed api-docs fetch through the failure callback *and* by
// throwing from inside its HTTP response handler; both end here as a failure.
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const [url, user, pass] = process.argv.slice(2);
if (!url || user === undefined || pass === undefined) {
  fail('usage: node connect.js URL USER PASSWORD');
} else {
  const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  timer.unref();

  let ari;
  try {
    ari = require('ari-client');
  } catch (err) {
    fail(`cannot load ari-client (run scripts/setup-test-deps): ${err.message}`);
  }

  if (ari) {
    ari
      .connect(url, user, pass)
      .then((client) => {
        // ari-client attaches one plain object per api-docs resource to the client, each
        // holding one function per operation (nickname). Everything else on the client is
        // either private (`_…`) or a function (resource creators like `client.Channel()`).
        const resources = Object.keys(client)
          .filter((name) => !name.startsWith('_'))
          .filter((name) => {
            const value = client[name];
            return (
              value !== null &&
              typeof value === 'object' &&
              Object.getPrototypeOf(value) === Object.prototype
            );
          })
          .sort();
        const operations = {};
        for (const name of resources) {
          operations[name] = Object.keys(client[name])
            .filter((op) => typeof client[name][op] === 'function')
            .sort();
        }
        finish(0, { ok: true, resources, operations });
      })
      .catch(fail);
  }
}
