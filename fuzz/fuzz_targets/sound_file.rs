//! Sound and recording file readers (`runtime/src/media/file.rs`): WAV (through hound, with
//! downmixing and resampling) and the raw ulaw, alaw, sln and sln16 formats, decoded from
//! arbitrary bytes, converted to both rates and played frame by frame with seeks.
//!
//! Input: one byte choosing the format, then the file's bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wari::media::file::{FramePlayer, decode_bytes};
use wari::media::format::Format;
use wari::media::frame::Rate;

const FORMATS: [Format; 5] = [
    Format::Wav,
    Format::Ulaw,
    Format::Alaw,
    Format::Sln,
    Format::Sln16,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let Ok(audio) = decode_bytes(bytes, format) else {
        return;
    };
    let _ = audio.duration_ms();
    for rate in [Rate::Narrow8k, Rate::Wide16k] {
        let mut player = FramePlayer::new(audio.to_rate(rate));
        let mut frames = 0;
        while player.next_frame().is_some() && frames < 64 {
            frames += 1;
        }
        player.skip_ms(-(i64::from(selector) * 7));
        player.seek_ms(u64::from(selector) * 13);
        let _ = player.next_frame();
        player.restart();
        let _ = player.next_frame();
    }
});
