//! Tests of reading, playing, writing and finding sound files.

use super::*;

fn ramp(n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i * 37) % 20000) as i16 - 10000).collect()
}

fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, samples: &[i32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn wav_written_then_read_back_equals_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.wav");
    let samples = ramp(16000);
    let mut w = RecordingWriter::create(&path, Format::Wav, Rate::Wide16k, IfExists::Fail).unwrap();
    for chunk in samples.chunks(320) {
        w.write_frame(&AudioFrame::from_samples(Rate::Wide16k, chunk).unwrap())
            .unwrap();
    }
    let done = w.finish().unwrap();
    assert_eq!(done.duration_ms, 1000);
    let (audio, format) = read_file(&path).unwrap();
    assert_eq!(format, Format::Wav);
    assert_eq!(audio.rate, Rate::Wide16k);
    assert_eq!(&audio.samples[..], &samples[..]);
    assert_eq!(audio.duration_ms(), 1000);
}

#[test]
fn partial_file_exists_while_recording_and_is_gone_after_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/msg.wav");
    let mut w =
        RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Fail).unwrap();
    let partial = dir.path().join("sub/dir/msg.wav.partial");
    assert_eq!(w.partial_path(), partial);
    w.write_frame(&AudioFrame::silence(Rate::Narrow8k)).unwrap();
    w.flush().unwrap();
    assert!(partial.exists());
    assert!(!path.exists());
    // The flushed partial is already a valid WAV.
    let (audio, _) = (read_file_as(&partial, Format::Wav).unwrap(), ());
    assert_eq!(audio.samples.len(), 160);
    w.finish().unwrap();
    assert!(!partial.exists());
    assert!(path.exists());
}

#[test]
fn cancel_deletes_the_partial_and_keeps_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keep.sln");
    fs::write(&path, [1, 0, 2, 0]).unwrap();
    let mut w =
        RecordingWriter::create(&path, Format::Sln, Rate::Narrow8k, IfExists::Overwrite).unwrap();
    w.write_samples(&[9; 100]).unwrap();
    let partial = w.partial_path().to_path_buf();
    assert!(partial.exists());
    w.cancel().unwrap();
    assert!(!partial.exists());
    assert_eq!(fs::read(&path).unwrap(), [1, 0, 2, 0]);
}

#[test]
fn if_exists_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.ulaw");
    fs::write(&path, [0xFFu8; 80]).unwrap();
    let err =
        RecordingWriter::create(&path, Format::Ulaw, Rate::Narrow8k, IfExists::Fail).unwrap_err();
    assert!(matches!(err, MediaError::AlreadyExists(_)));
    // Overwrite replaces only at finish.
    let mut w =
        RecordingWriter::create(&path, Format::Ulaw, Rate::Narrow8k, IfExists::Overwrite).unwrap();
    w.write_samples(&[1000; 160]).unwrap();
    assert_eq!(fs::read(&path).unwrap().len(), 80);
    let done = w.finish().unwrap();
    assert_eq!(done.duration_ms, 20);
    assert_eq!(fs::read(&path).unwrap().len(), 160);
    // Append adds to the end.
    let mut w =
        RecordingWriter::create(&path, Format::Ulaw, Rate::Narrow8k, IfExists::Append).unwrap();
    assert_eq!(w.duration_ms(), 20);
    w.write_samples(&[-1000; 80]).unwrap();
    let done = w.finish().unwrap();
    assert_eq!(done.duration_ms, 30);
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 240);
    assert_eq!(bytes[0], crate::media::codec::linear_to_ulaw(1000));
    assert_eq!(bytes[239], crate::media::codec::linear_to_ulaw(-1000));
    assert_eq!(IfExists::parse("APPEND"), Some(IfExists::Append));
    assert_eq!(IfExists::parse("nope"), None);
}

#[test]
fn wav_append_rewrites_the_header_and_keeps_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    let mut w =
        RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Fail).unwrap();
    w.write_samples(&[100; 800]).unwrap();
    w.finish().unwrap();
    // Asked for 16 kHz, but the file is 8 kHz: frames are converted to it.
    let mut w =
        RecordingWriter::create(&path, Format::Wav, Rate::Wide16k, IfExists::Append).unwrap();
    assert_eq!(w.rate(), Rate::Narrow8k);
    w.write_frame(&AudioFrame::silence(Rate::Wide16k)).unwrap();
    w.write_samples(&[200; 40]).unwrap();
    let done = w.finish().unwrap();
    assert_eq!(done.duration_ms, 125);
    let (audio, _) = read_file(&path).unwrap();
    assert_eq!(audio.samples.len(), 800 + 160 + 40);
    assert_eq!(audio.samples[0], 100);
    assert_eq!(audio.samples[999], 200);
}

#[test]
fn wav_append_refuses_other_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stereo.wav");
    write_wav(&path, 8000, 2, 16, &[1, 2, 3, 4]);
    let err =
        RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Append).unwrap_err();
    assert!(matches!(err, MediaError::CannotAppend { .. }), "{err}");
    assert!(!partial_path(&path).exists());
}

#[test]
fn unwritable_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    fs::write(&blocker, b"x").unwrap();
    let err = RecordingWriter::create(
        &blocker.join("rec.wav"),
        Format::Wav,
        Rate::Narrow8k,
        IfExists::Fail,
    )
    .unwrap_err();
    assert!(matches!(err, MediaError::Io { .. }));
}

#[test]
fn raw_formats_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let samples = ramp(1600);
    for format in [Format::Sln, Format::Sln16, Format::Ulaw, Format::Alaw] {
        let path = dir.path().join(format!("r.{}", format.extension()));
        let mut w = RecordingWriter::create(&path, format, Rate::Narrow8k, IfExists::Fail).unwrap();
        w.write_samples(&samples).unwrap();
        w.finish().unwrap();
        let (audio, f) = read_file(&path).unwrap();
        assert_eq!(f, format);
        assert_eq!(Some(audio.rate), format.raw_rate());
        assert_eq!(audio.samples.len(), samples.len());
        let max_err = audio
            .samples
            .iter()
            .zip(&samples)
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        let bound = if format.raw_codec().unwrap().sample_bytes() == 2 {
            0
        } else {
            320
        };
        assert!(max_err <= bound, "{format}: {max_err}");
    }
}

#[test]
fn raw_extensions_and_exact_durations() {
    let audio = decode_bytes(&[0xFF; 8000], Format::Ulaw).unwrap();
    assert_eq!(audio.duration_ms(), 1000);
    let audio = decode_bytes(&[0; 32001], Format::Sln16).unwrap();
    assert_eq!(audio.rate, Rate::Wide16k);
    assert_eq!(audio.duration_ms(), 1000);
    let audio = decode_bytes(&[0xD5; 4], Format::Alaw).unwrap();
    assert_eq!(&audio.samples[..], &[8, 8, 8, 8]);
    assert_eq!(decode_bytes(&[], Format::Sln).unwrap().duration_ms(), 0);
}

#[test]
fn wav_of_other_layouts_is_converted() {
    let dir = tempfile::tempdir().unwrap();
    // Stereo 16 kHz: averaged.
    let p = dir.path().join("s.wav");
    write_wav(&p, 16000, 2, 16, &[1000, 3000, -1000, -3000]);
    let (a, _) = read_file(&p).unwrap();
    assert_eq!(a.rate, Rate::Wide16k);
    assert_eq!(&a.samples[..], &[2000, -2000]);
    // 8-bit and 24-bit scaled to 16 bits.
    let p = dir.path().join("8.wav");
    write_wav(&p, 8000, 1, 8, &[64, -64]);
    let (a, _) = read_file(&p).unwrap();
    assert_eq!(&a.samples[..], &[64 << 8, -64 << 8]);
    let p = dir.path().join("24.wav");
    write_wav(&p, 8000, 1, 24, &[0x10_0000, -0x10_0000]);
    let (a, _) = read_file(&p).unwrap();
    assert_eq!(&a.samples[..], &[0x1000, -0x1000]);
    // 48 kHz: resampled to 16 kHz with the same duration.
    let p = dir.path().join("48k.wav");
    let tone: Vec<i32> = (0..48000)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 48000.0).sin()) as i32)
        .collect();
    write_wav(&p, 48000, 1, 16, &tone);
    let (a, _) = read_file(&p).unwrap();
    assert_eq!(a.rate, Rate::Wide16k);
    assert_eq!(a.duration_ms(), 1000);
    let p440 = crate::media::detect::goertzel_power(&a.samples[1000..15000], 440.0, 16000);
    let p1000 = crate::media::detect::goertzel_power(&a.samples[1000..15000], 1000.0, 16000);
    assert!(p440 > 1000.0 * p1000);
    // 11025 Hz mono goes to 16 kHz; 6000 Hz to 8 kHz.
    let p = dir.path().join("11k.wav");
    write_wav(&p, 11025, 1, 16, &vec![500; 11025]);
    let (a, _) = read_file(&p).unwrap();
    assert_eq!((a.rate, a.duration_ms()), (Rate::Wide16k, 1000));
    let p = dir.path().join("6k.wav");
    write_wav(&p, 6000, 1, 16, &vec![500; 6000]);
    let (a, _) = read_file(&p).unwrap();
    assert_eq!((a.rate, a.duration_ms()), (Rate::Narrow8k, 1000));
    assert!(a.samples.iter().all(|&s| s == 500));
}

#[test]
fn float_wav_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(&p, spec).unwrap();
    for s in [0.5f32, -0.5, 2.0, f32::NAN] {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let (a, _) = read_file(&p).unwrap();
    assert_eq!(&a.samples[..], &[16384, -16384, 32767, 0]);
}

#[test]
fn bad_wav_bytes_are_errors_not_panics() {
    assert!(decode_wav(b"").is_err());
    assert!(decode_wav(b"RIFF\x10\0\0\0WAVEfmt ").is_err());
    assert!(decode_wav(&[0xAB; 300]).is_err());
    // A valid header whose data is cut short yields what is there.
    let mut bytes = Vec::new();
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(io::Cursor::new(&mut bytes), spec).unwrap();
        for s in 0..100i16 {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }
    let cut = &bytes[..bytes.len() - 51];
    let a = decode_wav(cut).unwrap();
    assert_eq!(a.samples.len(), 74);
    // Every prefix is handled without panicking.
    for n in 0..bytes.len() {
        let _ = decode_wav(&bytes[..n]);
    }
    assert!(read_file(Path::new("/nonexistent/x.wav")).is_err());
    assert!(matches!(
        read_file(Path::new("x.gsm")),
        Err(MediaError::UnknownFormat(_))
    ));
}

#[test]
fn player_frames_seek_and_skip() {
    let audio = DecodedAudio::new(Rate::Narrow8k, ramp(8000 + 40));
    let mut p = FramePlayer::new(audio.clone());
    assert_eq!(p.duration_ms(), 1005);
    let mut frames = 0;
    let mut last = None;
    while let Some(f) = p.next_frame() {
        frames += 1;
        last = Some(f);
    }
    assert_eq!(frames, 51);
    let last = last.unwrap();
    assert_eq!(&last.samples()[..40], &audio.samples[8000..]);
    assert!(last.samples()[40..].iter().all(|&s| s == 0));
    assert!(p.is_finished());
    p.restart();
    assert_eq!(p.position_ms(), 0);
    p.seek_ms(500);
    let f = p.next_frame().unwrap();
    assert_eq!(f.samples(), &audio.samples[4000..4160]);
    p.skip_ms(-3000);
    assert_eq!(p.position_ms(), 0);
    p.skip_ms(700);
    assert_eq!(p.position_ms(), 700);
    p.skip_ms(3000);
    assert!(p.is_finished());
    assert!(p.next_frame().is_none());
    p.seek_ms(u64::MAX);
    assert!(p.is_finished());
    p.skip_ms(i64::MIN);
    assert_eq!(p.position_ms(), 0);
    let mut reused = AudioFrame::silence(Rate::Wide16k);
    assert!(p.fill_frame(&mut reused));
    assert_eq!(reused.rate(), Rate::Narrow8k);
    // Conversion keeps the duration.
    let wide = audio.to_rate(Rate::Wide16k);
    assert_eq!(wide.duration_ms(), 1005);
}

#[test]
fn safe_join_refuses_escapes() {
    let base = Path::new("/var/spool/asterisk/recording");
    assert_eq!(
        safe_join(base, "calls/today/msg1").unwrap(),
        base.join("calls/today/msg1")
    );
    assert!(safe_join(base, "a..b").is_ok());
    assert!(safe_join(base, ".hidden").is_ok());
    for bad in [
        "",
        "..",
        "../x",
        "a/../../x",
        "a/..",
        "/etc/passwd",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        "a\0b",
    ] {
        assert!(
            matches!(
                safe_join(base, bad),
                Err(MediaError::InvalidRecordingName(_))
            ),
            "{bad:?} accepted"
        );
    }
    assert!(safe_join(base, &"a".repeat(MAX_NAME_LEN + 1)).is_err());
}

#[test]
fn stored_recordings_are_listed_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    for rel in [
        "a.wav",
        "calls/b.ulaw",
        "calls/b.wav",
        "c.wav.partial",
        ".x.wav",
        "notes.txt",
    ] {
        let path = base.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, [0u8; 4]).unwrap();
    }
    let listed: Vec<(String, Format)> = list_recordings(base)
        .into_iter()
        .map(|s| (s.name, s.format))
        .collect();
    assert_eq!(
        listed,
        [
            ("a".to_owned(), Format::Wav),
            ("calls/b".to_owned(), Format::Wav),
            ("calls/b".to_owned(), Format::Ulaw),
        ]
    );
    let b = find_recording(base, "calls/b").unwrap().unwrap();
    assert_eq!(b.format, Format::Wav);
    assert_eq!(b.path, base.join("calls/b.wav"));
    assert!(find_recording(base, "c").unwrap().is_none());
    assert!(find_recording(base, "../a").is_err());
    assert!(list_recordings(&base.join("missing")).is_empty());
}
