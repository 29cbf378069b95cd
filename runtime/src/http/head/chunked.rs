//! Following a chunked request body to its end as Asterisk reads one, so that the next
//! head of a keep-alive or pipelined connection is found.

use super::MAX_LINE;
use super::bytes::is_blank;

/// Following a chunked body to its end, as Asterisk reads one: a size line (hex digits up to
/// CR or `;`, the line ending at LF), the data and CRLF, until a zero size; then trailer
/// lines up to a blank one.
#[derive(Debug, Default)]
pub(super) struct ChunkScan {
    phase: ChunkPhase,
    /// Bytes of the current size or trailer line so far.
    line_len: usize,
}

#[derive(Debug, Default)]
enum ChunkPhase {
    /// At the start of a size line.
    #[default]
    SizeStart,
    /// Reading the size's hex digits.
    Size(u64),
    /// In a chunk extension (after `;`), up to CR.
    Extension(u64),
    /// After the size line's CR, up to LF.
    SizeEnd(u64),
    Data(u64),
    /// The CR after the data.
    DataCr,
    /// The LF after the data.
    DataLf,
    /// In a trailer line; `content` once a non-blank byte came before any NUL.
    Trailer {
        content: bool,
        nul: bool,
    },
}

/// What [`ChunkScan::advance`] found.
pub(super) enum ChunkProgress {
    /// The body goes on.
    More,
    /// The body ended (the count returned includes its last byte).
    Done,
    /// Not a chunked body Asterisk would read: framing cannot be followed any more.
    Broken,
}

impl ChunkScan {
    /// Scans `input`; returns how many bytes belong to the body and whether it ended.
    pub(super) fn advance(&mut self, input: &[u8]) -> (usize, ChunkProgress) {
        let mut i = 0;
        while i < input.len() {
            if let ChunkPhase::Data(remaining) = &mut self.phase {
                let n = (*remaining).min((input.len() - i) as u64);
                *remaining -= n;
                i += n as usize;
                if *remaining == 0 {
                    self.phase = ChunkPhase::DataCr;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            match self.step(b) {
                ChunkProgress::More => {}
                done => return (i, done),
            }
        }
        (i, ChunkProgress::More)
    }

    fn step(&mut self, b: u8) -> ChunkProgress {
        let in_line = matches!(
            self.phase,
            ChunkPhase::SizeStart
                | ChunkPhase::Size(_)
                | ChunkPhase::Extension(_)
                | ChunkPhase::SizeEnd(_)
                | ChunkPhase::Trailer { .. }
        );
        if in_line {
            self.line_len += 1;
            if self.line_len >= MAX_LINE && b != b'\n' {
                return ChunkProgress::Broken;
            }
        }
        self.phase = match (std::mem::take(&mut self.phase), b) {
            (ChunkPhase::SizeStart, b) if b < b'0' => return ChunkProgress::Broken,
            (ChunkPhase::SizeStart, b) => match hex(b) {
                Some(d) => ChunkPhase::Size(u64::from(d)),
                None => return ChunkProgress::Broken,
            },
            (ChunkPhase::Size(n), b'\r') | (ChunkPhase::Extension(n), b'\r') => {
                ChunkPhase::SizeEnd(n)
            }
            (ChunkPhase::Size(n), b';') => ChunkPhase::Extension(n),
            (ChunkPhase::Size(n), b) => match hex(b) {
                Some(d) if n < (1 << 31) => ChunkPhase::Size(n * 16 + u64::from(d)),
                _ => return ChunkProgress::Broken,
            },
            (ChunkPhase::Extension(_), b'\n') => return ChunkProgress::Broken,
            (ChunkPhase::Extension(n), _) => ChunkPhase::Extension(n),
            (ChunkPhase::SizeEnd(n), b'\n') => {
                self.line_len = 0;
                if n == 0 {
                    ChunkPhase::Trailer {
                        content: false,
                        nul: false,
                    }
                } else {
                    ChunkPhase::Data(n)
                }
            }
            (ChunkPhase::SizeEnd(n), _) => ChunkPhase::SizeEnd(n),
            (ChunkPhase::DataCr, b'\r') => ChunkPhase::DataLf,
            (ChunkPhase::DataLf, b'\n') => ChunkPhase::SizeStart,
            (ChunkPhase::DataCr | ChunkPhase::DataLf, _) => return ChunkProgress::Broken,
            (ChunkPhase::Trailer { content, .. }, b'\n') => {
                self.line_len = 0;
                if !content {
                    return ChunkProgress::Done;
                }
                ChunkPhase::Trailer {
                    content: false,
                    nul: false,
                }
            }
            (ChunkPhase::Trailer { content, nul }, b) => ChunkPhase::Trailer {
                content: content || (!nul && !is_blank(b)),
                nul: nul || b == 0,
            },
            (ChunkPhase::Data(n), _) => ChunkPhase::Data(n),
        };
        ChunkProgress::More
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}
