//! Two `CallMedia`s on loopback, as two ends of a call: offer/answer, audio both ways
//! through their edges and sockets, a digit sent on one arriving once on the other.

use std::time::Duration;

use super::*;
use crate::media::detect::goertzel_power;
use crate::media::frame::{AudioFrame, Rate};

fn policy(dtmf_mode: DtmfMode) -> MediaPolicy {
    MediaPolicy {
        codecs: vec![Codec::Alaw, Codec::Ulaw],
        dtmf_mode,
        rtp_symmetric: true,
        rtp_timeout: None,
        bind_ip: "127.0.0.1".parse().unwrap(),
        advertised_ip: "127.0.0.1".parse().unwrap(),
    }
}

fn tone(hz: f64, n: usize) -> AudioFrame {
    let samples: Vec<i16> = (0..160)
        .map(|i| {
            let t = (n * 160 + i) as f64 / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect();
    AudioFrame::from_samples(Rate::Narrow8k, &samples).unwrap()
}

#[tokio::test]
async fn two_calls_negotiate_exchange_audio_and_a_digit_arrives_once() {
    let mut a = CallMedia::open(policy(DtmfMode::Rfc4733), "a".into()).unwrap();
    let mut b = CallMedia::open(policy(DtmfMode::Auto), "b".into()).unwrap();
    let offer = a.create_offer();
    let answer = b.answer_offer(&offer).unwrap();
    a.accept_answer(&answer).unwrap();
    assert!(
        answer.contains("m=audio ") && answer.contains(" RTP/AVP 8 0 101\r\n"),
        "{answer}"
    );
    let mut a_edge = a.take_edge().unwrap();
    let mut b_edge = b.take_edge().unwrap();
    assert!(a.take_edge().is_none());
    let mut b_events = b.take_events().unwrap();
    let control = a.control();

    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    let mut a_heard = Vec::new();
    let mut b_heard = Vec::new();
    let mut digits = Vec::new();
    let mut sent_at = None;
    for n in 0..150 {
        ticks.tick().await;
        a_edge.send(&tone(440.0, n));
        b_edge.send(&tone(1000.0, n));
        if let Some(frame) = a_edge.receive(Rate::Narrow8k) {
            a_heard.extend_from_slice(frame.samples());
        }
        if let Some(frame) = b_edge.receive(Rate::Narrow8k) {
            b_heard.extend_from_slice(frame.samples());
        }
        while let Ok(event) = b_events.try_recv() {
            digits.push(event);
        }
        if n == 20 {
            assert_eq!(control.send_dtmf('7', 100), DtmfSent::Rfc4733);
            sent_at = Some(n);
        }
        // Some ticks after the digit arrived, to see that it comes only once.
        if !digits.is_empty() && sent_at.is_some_and(|s| n > s + 30) && b_heard.len() > 8000 {
            break;
        }
    }
    assert_eq!(
        digits,
        [MediaEvent::Dtmf {
            digit: '7',
            duration_ms: 100
        }]
    );
    // Each side hears the other's tone.
    let strong = |heard: &[i16], hz: f32, other: f32| {
        let tail = &heard[heard.len().saturating_sub(1600)..];
        goertzel_power(tail, hz, 8000) > 100.0 * goertzel_power(tail, other, 8000)
    };
    assert!(a_heard.len() >= 1600 && strong(&a_heard, 1000.0, 440.0));
    assert!(b_heard.len() >= 1600 && strong(&b_heard, 440.0, 1000.0));
    let stats = control.statistics();
    assert!(stats.tx_packets > 20 && stats.rx_packets > 20, "{stats:?}");
    assert_eq!(b.control().statistics().remote_ssrc, stats.local_ssrc);
    control.close();
    b.control().close();
}

#[tokio::test]
async fn inband_calls_report_inband_sending_and_open_refuses_no_codec() {
    let mut a = CallMedia::open(policy(DtmfMode::Inband), "a".into()).unwrap();
    let offer = a.create_offer();
    assert!(!offer.contains("telephone-event"), "{offer}");
    let mut b = CallMedia::open(policy(DtmfMode::Rfc4733), "b".into()).unwrap();
    let answer = b.answer_offer(&offer).unwrap();
    a.accept_answer(&answer).unwrap();
    assert_eq!(a.control().send_dtmf('1', 100), DtmfSent::Inband);
    assert_eq!(
        b.control().send_dtmf('1', 100),
        DtmfSent::Inband,
        "none negotiated"
    );
    let mut none = policy(DtmfMode::Rfc4733);
    none.codecs = vec![Codec::Slin16];
    assert!(matches!(
        CallMedia::open(none, "c".into()),
        Err(MediaSetupError::NoCodec)
    ));
    let mut c = CallMedia::open(policy(DtmfMode::Auto), "c".into()).unwrap();
    let g729 = offer.replace("RTP/AVP 8 0", "RTP/AVP 18");
    assert_eq!(c.answer_offer(&g729).unwrap_err().sip_status(), 488);
}

#[tokio::test]
async fn after_latching_rtp_from_another_source_is_not_heard() {
    let mut a = CallMedia::open(policy(DtmfMode::Rfc4733), "a".into()).unwrap();
    let mut b = CallMedia::open(policy(DtmfMode::Rfc4733), "b".into()).unwrap();
    let answer = b.answer_offer(&a.create_offer()).unwrap();
    a.accept_answer(&answer).unwrap();
    let mut a_edge = a.take_edge().unwrap();
    let mut b_edge = b.take_edge().unwrap();
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    // B's first packets latch A onto B's address.
    let mut latched = false;
    for n in 0..100 {
        ticks.tick().await;
        b_edge.send(&tone(1000.0, n));
        a_edge.send(&AudioFrame::silence(Rate::Narrow8k));
        a_edge.receive(Rate::Narrow8k);
        if a.control().statistics().rx_packets >= 5 {
            latched = true;
            break;
        }
    }
    assert!(latched, "B's packets reached A");
    // B stops; what it had queued or in flight (several packets on a loaded machine)
    // arrives: A's count settles (unchanged for 5 ticks, within 100).
    let mut before = a.control().statistics().rx_packets;
    let mut steady = 0;
    for _ in 0..100 {
        ticks.tick().await;
        a_edge.send(&AudioFrame::silence(Rate::Narrow8k));
        a_edge.receive(Rate::Narrow8k);
        let now = a.control().statistics().rx_packets;
        steady = if now == before { steady + 1 } else { 0 };
        before = now;
        if steady == 5 {
            break;
        }
    }
    assert_eq!(steady, 5, "B's last packets kept coming");
    // A stranger on the same host, another port, sends A's own kind of packets.
    let stranger = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut packet = vec![0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x55];
    packet.extend_from_slice(&[0xD5; 160]);
    for n in 0..25u16 {
        packet[2..4].copy_from_slice(&n.to_be_bytes());
        stranger.send_to(&packet, a.local_rtp()).await.unwrap();
        ticks.tick().await;
        a_edge.send(&AudioFrame::silence(Rate::Narrow8k));
        a_edge.receive(Rate::Narrow8k);
        assert_ne!(
            a.control().statistics().remote_ssrc,
            0x55,
            "the stranger is heard"
        );
    }
    // None of the 25 was taken.
    let stats = a.control().statistics();
    assert_eq!(stats.rx_packets, before, "{stats:?}");
    a.control().close();
    b.control().close();
    drop(b_edge);
}

#[tokio::test]
async fn a_digit_received_while_the_clock_is_held_up_is_still_reported() {
    // A loaded machine can hold the media clock up for a while: what arrives meanwhile
    // waits, and the audio beyond 160 ms is dropped; a digit among it is not.
    let mut a = CallMedia::open(policy(DtmfMode::Rfc4733), "a".into()).unwrap();
    let mut b = CallMedia::open(policy(DtmfMode::Rfc4733), "b".into()).unwrap();
    let answer = b.answer_offer(&a.create_offer()).unwrap();
    a.accept_answer(&answer).unwrap();
    let mut a_edge = a.take_edge().unwrap();
    let mut b_edge = b.take_edge().unwrap();
    let mut b_events = b.take_events().unwrap();
    let mut ticks = tokio::time::interval(Duration::from_millis(20));
    let mut flowing = false;
    for n in 0..100 {
        ticks.tick().await;
        a_edge.send(&tone(440.0, n));
        b_edge.send(&AudioFrame::silence(Rate::Narrow8k));
        b_edge.receive(Rate::Narrow8k);
        if b.control().statistics().rx_packets >= 5 {
            flowing = true;
            break;
        }
    }
    assert!(flowing, "A's packets reached B");
    // B's clock stops for 1.2 s; A sends a digit of 100 ms (8 datagrams), then 1 s of
    // audio.
    assert_eq!(a.control().send_dtmf('5', 100), DtmfSent::Rfc4733);
    for n in 0..60 {
        ticks.tick().await;
        a_edge.send(&tone(440.0, n));
    }
    // B's clock goes on: the digit is reported, once.
    let mut digits = Vec::new();
    for n in 0..50 {
        ticks.tick().await;
        b_edge.send(&AudioFrame::silence(Rate::Narrow8k));
        b_edge.receive(Rate::Narrow8k);
        while let Ok(event) = b_events.try_recv() {
            digits.push(event);
        }
        if !digits.is_empty() && n >= 10 {
            break;
        }
    }
    assert_eq!(
        digits,
        [MediaEvent::Dtmf {
            digit: '5',
            duration_ms: 100
        }]
    );
    a.control().close();
    b.control().close();
}
