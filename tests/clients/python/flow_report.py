"""The one-line JSON report the Python call-flow scripts (call_flow.py, ari_client_flow.py)
print for tests/e2e/third_party_flow.rs."""

import json
import sys


def report(code, channel_id, events, **fields):
    """Prints the report (`channelId` and `events` unless `fields` give them) and exits."""
    fields.setdefault("channelId", channel_id)
    fields.setdefault("events", events)
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()
    sys.exit(code)
