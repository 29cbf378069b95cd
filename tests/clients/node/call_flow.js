#!/usr/bin/env node
// Drives one call through an ARI server with the npm `ari-client`:
// connect, start the Stasis application, originate `Test/alice` into it with a
// client-chosen channel id (CHANNEL_ID, or a generated one), answer and hang up on
// StasisStart, wait for StasisEnd.
//
//   node call_flow.js URL USER PASSWORD [CHANNEL_ID]
//
// On success prints one JSON line
//   {"ok":true,"channelId":"...","args":["x","y"],"events":["StasisStart",...,"StasisEnd"]}
// (`events`: the types of the events about the chosen channel, as `channel` or as the `peer`
// of a Dial, in arrival order) and exits 0.
// On failure prints {"ok":false,"error":"...","events":[...]} and exits 1. Gives up after
// TIMEOUT_MS so it always exits.
'use strict';

const TIMEOUT_MS = 20000;
const APP = 'flowapp';
const ENDPOINT = 'Test/alice';
const APP_ARGS = 'x,y';
const EXPECTED_ARGS = ['x', 'y'];

// stdout carries only the report: swagger-client console.log()s a "deprecated version of
// Swagger" notice for Swagger 1.1 listings, so send console output to stderr.
console.log = (...args) => console.error(...args);
console.info = console.log;

const [url, user, pass, chosenId] = process.argv.slice(2);
const channelId = chosenId || `flow-node-${process.pid}-${Date.now()}`;
const events = [];
let client = null;
let done = false;

function describe(err) {
  if (err instanceof Error) {
    let message = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
    // swagger-client rejections carry the HTTP status and the server's body.
    if (err.status !== undefined || err.statusCode !== undefined) {
      message += ` (status ${err.status !== undefined ? err.status : err.statusCode})`;
    }
    return message;
  }
  if (typeof err === 'string') {
    return err;
  }
  try {
    return JSON.stringify(err);
  } catch (_) {
    return String(err);
  }
}

function finish(code, report) {
  if (done) {
    return;
  }
  done = true;
  if (client) {
    try {
      client.stop();
    } catch (_) {
      // the socket may never have opened
    }
  }
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(code));
}

function fail(err, step) {
  const message = describe(err) || 'unknown error';
  finish(1, { ok: false, error: step ? `${step}: ${message}` : message, channelId, events });
}

// ari-client's WebSocket message handler throws (uncaught) on an event type that events.json
// does not declare; swagger-client also throws from inside its HTTP handlers.
process.on('uncaughtException', (err) => fail(err, 'uncaught exception'));
process.on('unhandledRejection', (err) => fail(err, 'unhandled rejection'));

async function main(url, user, pass) {
  let ari;
  try {
    ari = require('ari-client');
  } catch (err) {
    throw new Error(`cannot load ari-client (run scripts/setup-test-deps): ${err.message}`);
  }

  client = await ari.connect(url, user, pass);

  // The events about the channel: those naming it as `channel`, and the Dial events of
  // its originate, which name it as `peer`.
  client.on('*', (event) => {
    const about = (field) => event && event[field] && event[field].id === channelId;
    if (about('channel') || about('peer')) {
      events.push(event.type);
    }
  });

  client.on('StasisStart', (event, channel) => {
    if (!channel || channel.id !== channelId) {
      return;
    }
    const args = event.args;
    if (JSON.stringify(args) !== JSON.stringify(EXPECTED_ARGS)) {
      fail(`StasisStart args ${JSON.stringify(args)}, expected ${JSON.stringify(EXPECTED_ARGS)}`);
      return;
    }
    channel
      .answer()
      .catch((err) => {
        throw new Error(`answer: ${describe(err)}`);
      })
      .then(() =>
        channel.hangup().catch((err) => {
          throw new Error(`hangup: ${describe(err)}`);
        })
      )
      .catch((err) => fail(err));
  });

  client.on('StasisEnd', (event, channel) => {
    if (!channel || channel.id !== channelId) {
      return;
    }
    if (!events.includes('StasisStart')) {
      fail('StasisEnd before StasisStart');
      return;
    }
    finish(0, { ok: true, channelId, args: EXPECTED_ARGS, events });
  });

  let connected = false;
  client.on('WebSocketConnected', () => {
    connected = true;
  });

  // start() resolves once the events WebSocket is open (it emits 'WebSocketConnected' just
  // before); the application is registered by then, so the originated channel can enter it.
  await client.start(APP);
  if (!connected) {
    throw new Error('start() resolved without WebSocketConnected');
  }

  let channel;
  try {
    channel = await client.channels.originate({
      endpoint: ENDPOINT,
      app: APP,
      appArgs: APP_ARGS,
      channelId,
    });
  } catch (err) {
    throw new Error(`originate: ${describe(err)}`);
  }
  if (!channel || channel.id !== channelId) {
    throw new Error(`originate returned channel id ${channel && channel.id}, expected ${channelId}`);
  }
}

if (!url || user === undefined || pass === undefined) {
  fail('usage: node call_flow.js URL USER PASSWORD [CHANNEL_ID]');
} else {
  const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);
  timer.unref();
  main(url, user, pass).catch((err) => fail(err));
}
