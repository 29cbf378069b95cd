//! English say-rules for `number:`, `digits:` and `characters:` playback: each turns its
//! text into the ordered list of sound names to play.
//!
//! The names are those of the Asterisk core sound set (checked against Debian's
//! `asterisk-core-sounds-en-wav` 1.6.1): `digits/0` … `digits/20`, `digits/30` …
//! `digits/90`, `digits/hundred`, `digits/thousand`, `digits/million`, `digits/billion`,
//! `digits/minus`, `digits/star`, `digits/pound`; `letters/a` … `letters/z` and
//! punctuation in `letters/` (`at`, `dash`, `dollar`, `dot`, `equals`,
//! `exclaimation-point` — spelled so in the set —, `plus`, `slash`, `space`, `asterisk`,
//! and `asciiNN` for the other printable characters the set has).

use super::{MediaError, Result};

/// `number:<n>`: the words of an integer, e.g. 1234 → 1, thousand, 2, hundred, 30, 4.
/// Anything but an integer (surrounding spaces and a leading `+` allowed) is an error.
pub(crate) fn say_number(text: &str) -> Result<Vec<String>> {
    let n: i64 = text
        .trim()
        .parse()
        .map_err(|_| MediaError::NotANumber(text.to_owned()))?;
    let mut out = Vec::new();
    if n == 0 {
        out.push("digits/0".to_owned());
        return Ok(out);
    }
    if n < 0 {
        out.push("digits/minus".to_owned());
    }
    say_positive(n.unsigned_abs(), &mut out);
    Ok(out)
}

fn digit(n: u64) -> String {
    format!("digits/{n}")
}

/// Appends the words for `n` > 0.
fn say_positive(mut n: u64, out: &mut Vec<String>) {
    for (scale, word) in [
        (1_000_000_000, "digits/billion"),
        (1_000_000, "digits/million"),
        (1_000, "digits/thousand"),
    ] {
        if n >= scale {
            // Above a billion the count of billions is itself said in full.
            say_positive(n / scale, out);
            out.push(word.to_owned());
            n %= scale;
        }
    }
    if n >= 100 {
        out.push(digit(n / 100));
        out.push("digits/hundred".to_owned());
        n %= 100;
    }
    if n >= 21 {
        out.push(digit(n / 10 * 10));
        n %= 10;
    }
    if n > 0 {
        out.push(digit(n));
    }
}

/// `digits:<text>`: one sound per digit; `*` star, `#` pound, `-` minus; other characters
/// are skipped.
pub(crate) fn say_digits(text: &str) -> Vec<String> {
    text.chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(format!("digits/{c}")),
            '*' => Some("digits/star".to_owned()),
            '#' => Some("digits/pound".to_owned()),
            '-' => Some("digits/minus".to_owned()),
            _ => None,
        })
        .collect()
}

/// Printable characters that have an `asciiNN` file in the sound set.
const ASCII_NAMED: &[char] = &[
    '"', '%', '&', '\'', '(', ')', ',', ':', ';', '<', '>', '?', '[', '\\', ']', '^', '_', '`',
    '{', '|', '}', '~',
];

/// The sound for one character of `characters:`, if the set has one.
pub(crate) fn character_sound(c: char) -> Option<String> {
    let named = match c {
        'a'..='z' => return Some(format!("letters/{c}")),
        'A'..='Z' => return Some(format!("letters/{}", c.to_ascii_lowercase())),
        '0'..='9' => return Some(format!("digits/{c}")),
        '@' => "at",
        '-' => "dash",
        '$' => "dollar",
        '.' => "dot",
        '=' => "equals",
        '!' => "exclaimation-point",
        '+' => "plus",
        '/' => "slash",
        ' ' => "space",
        '*' => "asterisk",
        '#' => return Some("digits/pound".to_owned()),
        c if ASCII_NAMED.contains(&c) => return Some(format!("letters/ascii{}", c as u32)),
        _ => return None,
    };
    Some(format!("letters/{named}"))
}

/// `characters:<text>`: spells the text; characters without a sound are skipped.
pub(crate) fn say_characters(text: &str) -> Vec<String> {
    text.chars().filter_map(character_sound).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: &str) -> Vec<String> {
        say_number(n)
            .unwrap()
            .into_iter()
            .map(|s| s.trim_start_matches("digits/").to_owned())
            .collect()
    }

    #[test]
    fn numbers() {
        assert_eq!(words("1234"), ["1", "thousand", "2", "hundred", "30", "4"]);
        assert_eq!(say_number("1234").unwrap()[0], "digits/1");
        assert_eq!(words("0"), ["0"]);
        assert_eq!(words("7"), ["7"]);
        assert_eq!(words("13"), ["13"]);
        assert_eq!(words("20"), ["20"]);
        assert_eq!(words("21"), ["20", "1"]);
        assert_eq!(words("90"), ["90"]);
        assert_eq!(words("100"), ["1", "hundred"]);
        assert_eq!(words("115"), ["1", "hundred", "15"]);
        assert_eq!(words("1000"), ["1", "thousand"]);
        assert_eq!(words("-45"), ["minus", "40", "5"]);
        assert_eq!(words(" +5 "), ["5"]);
        assert_eq!(words("2000000017"), ["2", "billion", "17"]);
        assert_eq!(
            words("999999"),
            [
                "9", "hundred", "90", "9", "thousand", "9", "hundred", "90", "9"
            ]
        );
        assert_eq!(words("5000000"), ["5", "million"]);
        assert_eq!(
            words("1200000000000"),
            ["1", "thousand", "2", "hundred", "billion"]
        );
        // The extremes do not overflow.
        assert_eq!(words(&i64::MIN.to_string())[0], "minus");
        assert!(words(&i64::MAX.to_string()).len() > 10);
    }

    #[test]
    fn non_integers_are_errors() {
        for bad in ["", "1.5", "12a", "one", "--1", "99999999999999999999"] {
            assert!(
                matches!(say_number(bad), Err(MediaError::NotANumber(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn digits() {
        assert_eq!(
            say_digits("12*#-x9"),
            [
                "digits/1",
                "digits/2",
                "digits/star",
                "digits/pound",
                "digits/minus",
                "digits/9"
            ]
        );
        assert!(say_digits("").is_empty());
    }

    #[test]
    fn characters() {
        assert_eq!(
            say_characters("aB3@.-!? é"),
            [
                "letters/a",
                "letters/b",
                "digits/3",
                "letters/at",
                "letters/dot",
                "letters/dash",
                "letters/exclaimation-point",
                "letters/ascii63",
                "letters/space",
            ]
        );
        assert_eq!(character_sound('*').unwrap(), "letters/asterisk");
        assert_eq!(character_sound('~').unwrap(), "letters/ascii126");
        assert_eq!(character_sound('"').unwrap(), "letters/ascii34");
        assert_eq!(character_sound('\n'), None);
    }
}
