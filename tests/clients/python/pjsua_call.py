#!/usr/bin/env python3
"""A pjsua2 phone for the SIP tests (tests/e2e/sip_peers.rs runs it with the test venv).

Calls --uri from 127.0.0.1 (ephemeral SIP and RTP ports, no sound device, G.711 only), plays
--play into the call once media is up, records what it hears into --record, sends --digits as
RFC 4733 telephone events, keeps the call --hold seconds (unless the far end hangs up), hangs
up, and prints one line `result: {"status": N, "digits_received": "..."}` with the final SIP
status of the INVITE and the digits it received. Digest credentials: --user/--password.
"""
import argparse
import json
import sys
import os
import time

import pjsua2 as pj

SETUP_SECONDS = 10
TEARDOWN_SECONDS = 3


class Call(pj.Call):
    def __init__(self, account, play, record):
        super().__init__(account)
        self.play_path = play
        self.record_path = record
        self.media_up = False
        self.done = False
        self.status = 0
        self.digits = ""
        self.media = []  # player and recorder, released before libDestroy

    def onCallState(self, prm):
        info = self.getInfo()
        if info.lastStatusCode:
            self.status = info.lastStatusCode
        print("pjsua: state", info.stateText, info.lastStatusCode, flush=True)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.done = True

    def onCallMediaState(self, prm):
        # Called again when a re-INVITE or UPDATE renews the stream: connect to the new port.
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type != pj.PJMEDIA_TYPE_AUDIO or media.status != pj.PJSUA_CALL_MEDIA_ACTIVE:
                continue
            audio = self.getAudioMedia(index)
            if not self.media:
                player = pj.AudioMediaPlayer()
                player.createPlayer(self.play_path, pj.PJMEDIA_FILE_NO_LOOP)
                recorder = pj.AudioMediaRecorder()
                recorder.createRecorder(self.record_path)
                self.media = [player, recorder]
            player, recorder = self.media
            player.startTransmit(audio)
            audio.startTransmit(recorder)
            self.media_up = True

    def receiving(self):
        """True once RTP has arrived in the audio stream."""
        try:
            return self.getStreamStat(0).rtcp.rxStat.pkt > 0
        except pj.Error:
            return False

    def onDtmfDigit(self, prm):
        self.digits += prm.digit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--uri", required=True)
    parser.add_argument("--play", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--digits", default="")
    parser.add_argument("--hold", type=float, default=3.0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.uaConfig.userAgent = "pjsua2-wari-test"
    config.medConfig.clockRate = 8000
    config.medConfig.sndClockRate = 8000
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.port = 0
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    transport_id = endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    for codec in endpoint.codecEnum2():
        wanted = codec.codecId.startswith(("PCMU/", "PCMA/"))
        endpoint.codecSetPriority(codec.codecId, 255 if wanted else 0)

    local_port = endpoint.transportGetInfo(transport_id).localName.split(":")[-1]
    user = args.user or "pjsua"
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:{user}@127.0.0.1:{local_port}"
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.port = 0
    # An answer with more than one codec (wari's, as Asterisk's, keeps every joint codec)
    # would make pjsua send a re-INVITE at once to lock one, and rebuild its stream when
    # that is answered: digits queued on the first stream meanwhile are never sent. The
    # call's media is final when it is up.
    account_config.mediaConfig.lockCodecEnabled = False
    if args.user and args.password is not None:
        account_config.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", args.user, 0, args.password))
    account = pj.Account()
    account.create(account_config)

    call = Call(account, args.play, args.record)
    call.makeCall(args.uri, pj.CallOpParam(True))
    started = time.time()
    while not call.media_up and not call.done and time.time() - started < SETUP_SECONDS:
        endpoint.libHandleEvents(20)
    # Digits go once audio flows both ways (the far end has latched onto our RTP).
    started = time.time()
    while call.media_up and not call.done and not call.receiving() and \
            time.time() - started < SETUP_SECONDS:
        endpoint.libHandleEvents(20)
    if call.media_up and args.digits:
        dtmf = pj.CallSendDtmfParam()
        dtmf.digits = args.digits
        dtmf.method = pj.PJSUA_DTMF_METHOD_RFC2833
        call.sendDtmf(dtmf)
        print("pjsua: sent digits", args.digits, flush=True)
    held = time.time()
    while call.media_up and not call.done and time.time() - held < args.hold:
        endpoint.libHandleEvents(20)
    if not call.done:
        call.hangup(pj.CallOpParam(True))
    ended = time.time()
    while not call.done and time.time() - ended < TEARDOWN_SECONDS:
        endpoint.libHandleEvents(20)

    # libDestroy closes the player and the recorder (which then writes its last data and the
    # WAV header). The Python wrappers of both would then try to leave a conference bridge
    # that is gone (an assertion in PJSIP 2.15.1), so leave without running their destructors.
    print("result: " + json.dumps({"status": call.status, "digits_received": call.digits}),
          flush=True)
    endpoint.libDestroy()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
