#!/usr/bin/env python3
"""Drives one call through an ARI server with PyPI's `asyncari` (anyio, swagger-driven).

    python call_flow.py URL USER PASSWORD [CHANNEL_ID]

Connects (which loads the api-docs and opens the events WebSocket for the application),
originates `Test/alice` into the application with a client-chosen channel id (CHANNEL_ID, or
a generated one), answers and
hangs up on StasisStart, and waits for StasisEnd.

On success prints one JSON line
    {"ok":true,"channelId":"...","args":["x","y"],"events":["StasisStart",...,"StasisEnd"]}
(`events`: the types of the events about the chosen channel, as `channel` or as the `peer` of
a Dial, in arrival order) and exits 0.
On failure prints {"ok":false,"error":"...","events":[...]} and exits 1. Gives up after
TIMEOUT seconds so it always exits.

Run it with the interpreter of tests/clients/python/.venv (scripts/setup-test-deps).
"""

import flow_report
import logging
import os
import sys
import time

TIMEOUT = 20
APP = "flowapp"
ENDPOINT = "Test/alice"
APP_ARGS = "x,y"
EXPECTED_ARGS = ["x", "y"]

CHANNEL_ID = "flow-py-%d-%d" % (os.getpid(), int(time.time() * 1000))
EVENTS = []


def report(code, **fields):
    flow_report.report(code, CHANNEL_ID, EVENTS, **fields)


def describe(exc):
    """A one-line description, unwrapping exception groups and HTTP errors."""
    group = getattr(exc, "exceptions", None)
    if group:
        return "; ".join(describe(e) for e in group)
    text = "%s: %s" % (type(exc).__name__, exc)
    response = getattr(exc, "response", None)
    if response is None and exc.__cause__ is not None:
        response = getattr(exc.__cause__, "response", None)
    if response is not None:
        try:
            text += " (HTTP %s %s)" % (response.status_code, response.text.strip())
        except Exception:  # the body may be unreadable; the status is enough
            text += " (HTTP %s)" % response.status_code
    return text


class FlowError(Exception):
    pass


async def flow(url, user, password):
    import anyio
    import asyncari

    outcome = {}

    # connect() loads the api-docs and returns once the events WebSocket is open, i.e. once
    # the application is registered: the originated channel can enter it right away.
    async with asyncari.connect(url, APP, user, password) as client:
        # asyncari delivers events to listeners; the catch-all one (`async for msg in client`)
        # gets every event as an EventMessage whose Channel-typed fields (by the events.json
        # models) are promoted to asyncari Channel objects. Register it before originating so
        # StasisStart cannot be missed.
        events = aiter(client)

        async def answer_and_hang_up(channel):
            try:
                await channel.answer()
            except Exception as exc:
                raise FlowError("answer: %s" % describe(exc)) from exc
            try:
                await channel.hangup()
            except Exception as exc:
                raise FlowError("hangup: %s" % describe(exc)) from exc

        async with anyio.create_task_group() as tg:

            async def originate():
                try:
                    channel = await client.channels.originate(
                        endpoint=ENDPOINT, app=APP, appArgs=APP_ARGS, channelId=CHANNEL_ID
                    )
                except Exception as exc:
                    raise FlowError("originate: %s" % describe(exc)) from exc
                channel_id = getattr(channel, "id", None)
                if channel_id != CHANNEL_ID:
                    raise FlowError(
                        "originate returned channel id %r, expected %r" % (channel_id, CHANNEL_ID)
                    )

            tg.start_soon(originate)

            # Keep draining the listener while requests run in tasks: asyncari's WebSocket
            # reader waits for every listener and fails if one stalls for over a second.
            async for msg in events:
                channel = getattr(msg, "channel", None)
                # The Dial events of the originate name the channel as `peer`.
                peer = getattr(msg, "peer", None)
                if CHANNEL_ID not in (getattr(channel, "id", None), getattr(peer, "id", None)):
                    continue
                kind = msg["type"]
                EVENTS.append(kind)
                if kind == "StasisStart":
                    args = msg["args"]
                    if args != EXPECTED_ARGS:
                        raise FlowError(
                            "StasisStart args %r, expected %r" % (args, EXPECTED_ARGS)
                        )
                    outcome["args"] = args
                    tg.start_soon(answer_and_hang_up, channel)
                elif kind == "StasisEnd":
                    if "StasisStart" not in EVENTS:
                        raise FlowError("StasisEnd before StasisStart")
                    break
            else:
                raise FlowError("the event stream ended before StasisEnd")
            tg.cancel_scope.cancel()
    return outcome


def main(argv):
    global CHANNEL_ID
    if len(argv) not in (4, 5):
        report(1, ok=False, error="usage: call_flow.py URL USER PASSWORD [CHANNEL_ID]")
    url, user, password = argv[1:4]
    if len(argv) == 5:
        CHANNEL_ID = argv[4]
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        import anyio
    except ImportError as exc:
        report(1, ok=False, error="cannot load anyio (run scripts/setup-test-deps): %s" % exc)
    try:
        import asyncari  # noqa: F401
    except ImportError as exc:
        report(1, ok=False, error="cannot load asyncari (run scripts/setup-test-deps): %s" % exc)

    async def bounded():
        with anyio.fail_after(TIMEOUT):
            return await flow(url, user, password)

    try:
        outcome = anyio.run(bounded)
    except TimeoutError:
        report(1, ok=False, error="timed out after %d s" % TIMEOUT)
    except BaseException as exc:  # noqa: BLE001 - any failure is reported, never raised
        if isinstance(exc, SystemExit):
            raise
        report(1, ok=False, error=describe(exc))
    report(0, ok=True, args=outcome.get("args"))


if __name__ == "__main__":
    main(sys.argv)
