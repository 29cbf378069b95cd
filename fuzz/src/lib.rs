//! Helpers shared by the fuzz targets: splitting one fuzz input into several parts.

/// Splits `data` at NUL bytes into at most `n` parts (the last part keeps any further NULs),
/// so one input can stand for several files or fields. Missing parts are empty.
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0).collect();
    out.resize(n, &[]);
    out
}

/// `bytes` as text, invalid UTF-8 replaced (for APIs that take `&str`).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
