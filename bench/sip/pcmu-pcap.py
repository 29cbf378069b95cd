#!/usr/bin/env python3
"""Writes a pcap of one G.711 u-law (PCMU, payload type 0) RTP stream at 20 ms per packet,
for SIPp's `play_pcap_audio` (scripts/bench-sip-bridged-sipp).

    bench/sip/pcmu-pcap.py SECONDS OUT.pcap

The audio is a 425 Hz tone at about -20 dBFS, so every packet carries sound (not the
silence some peers suppress). Addresses and ports in the file do not matter: SIPp sends
each packet from the call's media port to the port the call's SDP answer gave. Ethernet
framing (link type 1), IPv4, UDP; 160-byte payloads, one packet every 20 ms.
"""

import math
import struct
import sys

RATE = 8000
SAMPLES = 160  # 20 ms
BIAS = 0x84
CLIP = 32635


def ulaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 u-law (ITU-T G.711, segment encoding)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), CLIP) + BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: pcmu-pcap.py SECONDS OUT.pcap")
    seconds = float(sys.argv[1])
    if not 0 < seconds <= 3600:
        sys.exit("SECONDS must be in (0, 3600]")
    packets = int(seconds * RATE / SAMPLES)
    # One second of tone, encoded once; 425 Hz repeats every 8000 samples exactly.
    tone = bytes(
        ulaw(int(3277 * math.sin(2 * math.pi * 425 * n / RATE))) for n in range(RATE)
    )
    src, dst = bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])
    with open(sys.argv[2], "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        ssrc = 0x5157A11
        for i in range(packets):
            at = i * SAMPLES
            payload = tone[at % RATE : at % RATE + SAMPLES]
            rtp = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0), i & 0xFFFF, at & 0xFFFFFFFF, ssrc) + payload
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0, src, dst)
            ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
            frame = b"\0" * 12 + b"\x08\x00" + ip + udp
            usec = i * 20_000
            out.write(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(frame), len(frame)))
            out.write(frame)


if __name__ == "__main__":
    main()
