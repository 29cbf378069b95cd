#!/usr/bin/env python3
"""Drives one call through an ARI server with PyPI's `ari-client` (asyncio, hand-written:
httpx with HTTP Basic auth, JSON request bodies, pydantic models of every event).

    python ari_client_flow.py URL USER PASSWORD [CHANNEL_ID]

Connects the events WebSocket for the application (the client loads no api-docs),
originates `Test/alice` into it with a client-chosen channel id (CHANNEL_ID, or a generated
one) and `appArgs` `x,y` sent as a JSON body, answers and hangs up on StasisStart, and
waits for StasisEnd. The client's pydantic models parse each of these events: an event
whose shape they refuse is logged by the client and never reaches the handlers, so the
flow then times out.

Prints the same one-line JSON report as call_flow.py and exits 0 on success, 1 on failure;
gives up after TIMEOUT seconds so it always exits.

Run it with the interpreter of tests/clients/python/.venv (scripts/setup-test-deps).
"""

import asyncio
import flow_report
import os
import sys
import time
from urllib.parse import urlparse

TIMEOUT = 20
APP = "flowapp"
ENDPOINT = "Test/alice"
APP_ARGS = "x,y"

# The event types of such a call besides StasisStart and StasisEnd (what Asterisk sends an
# application for a channel it originates).
RECORDED = [
    "Dial",
    "ChannelCreated",
    "ChannelStateChange",
    "ChannelVarset",
    "ChannelDialplan",
    "ChannelCallerId",
    "ChannelConnectedLine",
    "ChannelHangupRequest",
    "ChannelDestroyed",
]

CHANNEL_ID = "flow-ari-client-%d-%d" % (os.getpid(), int(time.time() * 1000))
EVENTS = []


def report(code, **fields):
    flow_report.report(code, CHANNEL_ID, EVENTS, **fields)


async def flow(url, user, password):
    from ari_client import AriClient

    server = urlparse(url)
    client = AriClient(server.hostname, server.port, user, password)
    ended = asyncio.Event()
    outcome = {}

    # The client runs each handler as a task of its own and only logs what it raises, so
    # a failure is recorded here and ends the wait.
    def fail(what, exc):
        outcome.setdefault("error", "%s: %s: %s" % (what, type(exc).__name__, exc))
        ended.set()

    def about_the_channel(event):
        """True for an event naming the channel as `channel`, or as the `peer` of a Dial."""
        ids = (getattr(getattr(event, name, None), "id", None) for name in ("channel", "peer"))
        return CHANNEL_ID in ids

    # The client parses an event with its model only when a handler is registered for the
    # type: record every type the call may bring, each through its model.
    def record(kind):
        async def recorder(event):
            # The report ends with StasisEnd, as the other scripts' do.
            if about_the_channel(event) and not ended.is_set():
                EVENTS.append(kind)

        client.on_event(kind)(recorder)

    for kind in RECORDED:
        record(kind)

    @client.on_stasis_start
    async def started(event):
        if event.channel.id != CHANNEL_ID:
            return
        EVENTS.append("StasisStart")
        outcome["args"] = list(event.args)
        try:
            await client.ari.answer_channel(event.channel.id)
            await client.ari.stop_channel(event.channel.id)
        except Exception as exc:  # reported in the JSON line
            fail("answer and hang up", exc)

    @client.on_stasis_end
    async def finished(event):
        if event.channel.id == CHANNEL_ID:
            EVENTS.append("StasisEnd")
            ended.set()

    # connect() returns once the WebSocket is open, i.e. once the application is
    # registered: the originated channel can enter it right away.
    await client.connect(APP)
    try:
        channel = await client.ari.originate(ENDPOINT, channel_id=CHANNEL_ID, app_args=APP_ARGS)
        if channel.id != CHANNEL_ID:
            raise RuntimeError("originate returned channel %r" % channel.id)
        await asyncio.wait_for(ended.wait(), TIMEOUT)
    finally:
        await client.disconnect()
    if "error" in outcome:
        raise RuntimeError(outcome["error"])
    return outcome


def main():
    if len(sys.argv) < 4:
        sys.stderr.write(__doc__)
        sys.exit(2)
    global CHANNEL_ID
    url, user, password = sys.argv[1:4]
    if len(sys.argv) > 4:
        CHANNEL_ID = sys.argv[4]
    try:
        outcome = asyncio.run(asyncio.wait_for(flow(url, user, password), TIMEOUT + 5))
    except Exception as exc:  # every failure becomes the JSON report
        report(1, ok=False, error="%s: %s" % (type(exc).__name__, exc))
    report(0, ok=True, args=outcome.get("args"))


if __name__ == "__main__":
    main()
