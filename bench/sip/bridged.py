#!/usr/bin/env python3
"""The measuring side of scripts/bench-sip-bridged-sipp (standard library only, loopback only).

    bridged.py snapshot PID URL USER:PASSWORD     wari's counters now, as JSON on stdout
    bridged.py wait URL USER:PASSWORD CALLS LIMIT  until CALLS channels sit in 2-party bridges
    bridged.py report CALLS IDLE START END         the figures between two snapshots

A snapshot holds: the time (monotonic), wari's CPU (user and system, from
/proc/PID/stat), its resident set (VmRSS), the counters of GET /ari/metrics, and the
datagrams the kernel dropped on wari's own UDP sockets because their receive queues were
full (the `drops` column of /proc/PID/net/udp, for the sockets PID holds).
"""

import base64
import json
import os
import sys
import time
import urllib.parse
import urllib.request


def get(url: str, credentials: str, path: str) -> bytes:
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"loopback URLs only, not {url}")
    request = urllib.request.Request(url + path)
    request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def metrics(url: str, credentials: str) -> dict:
    values = {}
    for line in get(url, credentials, "/metrics").decode().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            pass
    return values


def socket_drops(pid: int) -> tuple:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    drops = sockets = 0
    for table in ("udp", "udp6"):
        try:
            lines = open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 12 and fields[9] in inodes:
                sockets += 1
                drops += int(fields[12])
    return drops, sockets


def snapshot(pid: int, url: str, credentials: str) -> dict:
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    rss_kb = 0
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    drops, sockets = socket_drops(pid)
    return {
        "time": time.monotonic(),
        "user_s": int(fields[11]) / ticks,
        "system_s": int(fields[12]) / ticks,
        "rss_kb": rss_kb,
        "kernel_drops": drops,
        "udp_sockets": sockets,
        "metrics": metrics(url, credentials),
    }


def wait(url: str, credentials: str, calls: int, limit: float) -> None:
    began = time.monotonic()
    bridged = 0
    while time.monotonic() - began < limit:
        bridges = json.loads(get(url, credentials, "/ari/bridges"))
        bridged = sum(len(b["channels"]) for b in bridges if len(b["channels"]) == 2)
        if bridged >= calls:
            print(f"{calls} calls in {len(bridges)} bridges after {time.monotonic() - began:.1f} s")
            return
        time.sleep(0.5)
    sys.exit(f"only {bridged} of {calls} calls were in 2-party bridges after {limit:.0f} s")


def report(calls: int, idle: dict, start: dict, end: dict) -> None:
    seconds = end["time"] - start["time"]
    m0, m1 = start["metrics"], end["metrics"]

    def delta(name: str) -> float:
        return m1.get(name, 0.0) - m0.get(name, 0.0)

    cpu = (end["user_s"] + end["system_s"]) - (start["user_s"] + start["system_s"])
    user = end["user_s"] - start["user_s"]
    received = delta("wari_sip_rtp_received_packets_total")
    sent = delta("wari_sip_rtp_sent_packets_total")
    expected = calls * 50 * seconds
    queue_in = delta('wari_sip_rtp_queue_dropped_total{direction="in"}')
    queue_out = delta('wari_sip_rtp_queue_dropped_total{direction="out"}')
    jitter = delta("wari_sip_rtp_jitter_dropped_total")
    lost = delta("wari_sip_rtp_jitter_lost_total")
    kernel = end["kernel_drops"] - start["kernel_drops"]
    ticks = delta("wari_media_ticks_total")
    late = delta("wari_media_late_ticks_total")
    busy = delta("wari_media_busy_seconds_total")
    rss_per_call = (end["rss_kb"] - idle["rss_kb"]) * 1024 / calls
    rows = [
        ("SIP calls (legs)", f"{calls}"),
        ("mixing bridges (2 legs each)", f"{calls // 2}"),
        ("measured window", f"{seconds:.1f} s"),
        ("media ticks / late ticks", f"{ticks:.0f} / {late:.0f}"),
        ("media thread busy", f"{busy / seconds * 100:.1f}% ({busy / max(ticks, 1) * 1e3:.2f} ms per tick)"),
        ("RTP received by wari", f"{received / seconds:,.0f} packets/s ({received / expected * 100:.1f}% of 50/s per call)"),
        ("RTP sent by wari", f"{sent / seconds:,.0f} packets/s ({sent / expected * 100:.1f}% of 50/s per call)"),
        ("dropped in wari's queues (in / out)", f"{queue_in:.0f} / {queue_out:.0f}"),
        ("dropped by jitter buffers (late, duplicate, overflow)", f"{jitter:.0f}"),
        ("gaps at playout (never arrived in time)", f"{lost:.0f}"),
        ("dropped by the kernel on wari's sockets", f"{kernel} ({end['udp_sockets']} UDP sockets)"),
        ("wari CPU (user+sys)", f"{cpu / seconds * 100:.1f}% of one core ({user / seconds * 100:.1f}% user)"),
        ("CPU per call", f"{cpu / seconds / calls * 1e6:.0f} us per second ({cpu / seconds / calls * 100:.3f}% of a core)"),
        ("RTP packets (received+sent) per CPU second", f"{(received + sent) / max(cpu, 1e-9):,.0f}"),
        ("RSS idle / with the calls", f"{idle['rss_kb'] / 1024:.1f} / {end['rss_kb'] / 1024:.1f} MiB"),
        ("memory per call", f"{rss_per_call / 1024:.1f} KiB"),
    ]
    print("| figure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["snapshot"] and len(args) == 4:
        print(json.dumps(snapshot(int(args[1]), args[2], args[3])))
    elif args[:1] == ["wait"] and len(args) == 5:
        wait(args[1], args[2], int(args[3]), float(args[4]))
    elif args[:1] == ["report"] and len(args) == 5:
        loaded = [json.load(open(path)) for path in args[2:]]
        report(int(args[1]), *loaded)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
