//! Extension patterns: `_NXXXXXX`, `_1[2-5]X.`, `_X!` ...
//!
//! A pattern is the text after the leading `_`, read as a sequence of elements, each
//! matching one character of the dialed extension, except the two wildcards:
//!
//! | element   | matches                                              | rank |
//! |-----------|------------------------------------------------------|------|
//! | literal   | that character, case-sensitively                     | 1    |
//! | `[...]`   | one character of the set (`a-b` is a range)          | size |
//! | `N` / `n` | one digit 2-9                                        | 8    |
//! | `Z` / `z` | one digit 1-9                                        | 9    |
//! | `X` / `x` | one digit 0-9                                        | 10   |
//! | `.`       | one or more characters of anything (ends the match)  | huge |
//! | `!`       | zero or more characters of anything (ends the match) | huger|
//!
//! `-` and blanks outside brackets are ignored (`_1-800-NXX-XXXX` reads as `_1800NXXXXXX`),
//! and anything after a wildcard is ignored, as Asterisk ignores it (the parser reports it).
//!
//! # Ordering
//!
//! When several patterns match the same extension, the most specific one is preferred.
//! Each pattern is turned into its list of ranks (the "rank" column above: how many
//! characters the element accepts) and the lists are compared lexicographically, smaller
//! first; a pattern that ends where the other goes on is the smaller (more specific). Since
//! every element but a wildcard consumes exactly one character, two patterns that match the
//! same extension line up position by position until the first wildcard, so this compares
//! what each pattern accepts at the first position where they differ. Equal rank lists
//! (`_[12]X` against `_[13]X`) keep the order the extensions were written in.
//!
//! For `100`: `_10X` (1,1,10) beats `_1XX` (1,10,10) beats `_1.` (1,huge) beats `_X.`
//! (10,huge), and `_1[0-4]X` (1,5,10) beats `_1NX` (1,8,10) beats `_1ZX` (1,9,10).

use std::fmt;

/// Rank of `.`: more than any character set can hold.
const RANK_ONE_OR_MORE: u32 = u32::MAX - 1;
/// Rank of `!`: loses even to `.`.
const RANK_ZERO_OR_MORE: u32 = u32::MAX;

/// Why an extension pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("pattern `_` has no elements")]
    Empty,
    #[error("`[` at position {0} of the pattern is never closed with `]`")]
    UnclosedSet(usize),
    #[error("empty character set `[]` in the pattern")]
    EmptySet,
    #[error("range `{0}-{1}` in the pattern goes backwards")]
    BackwardRange(char, char),
}

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    /// Exactly this character.
    Literal(char),
    /// `N`: 2-9.
    N,
    /// `Z`: 1-9.
    Z,
    /// `X`: 0-9.
    X,
    /// `[...]`: sorted, merged, inclusive ranges.
    Set(Vec<(char, char)>),
    /// `.`
    OneOrMore,
    /// `!`
    ZeroOrMore,
}

impl Element {
    fn accepts(&self, c: char) -> bool {
        match self {
            Element::Literal(l) => *l == c,
            Element::N => ('2'..='9').contains(&c),
            Element::Z => ('1'..='9').contains(&c),
            Element::X => c.is_ascii_digit(),
            Element::Set(ranges) => ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi),
            Element::OneOrMore | Element::ZeroOrMore => true,
        }
    }

    /// How many characters the element accepts (see the module documentation).
    fn rank(&self) -> u32 {
        match self {
            Element::Literal(_) => 1,
            Element::N => 8,
            Element::Z => 9,
            Element::X => 10,
            Element::Set(ranges) => ranges
                .iter()
                .map(|&(lo, hi)| u32::from(hi) - u32::from(lo) + 1)
                .fold(0u32, u32::saturating_add)
                .min(RANK_ONE_OR_MORE - 1),
            Element::OneOrMore => RANK_ONE_OR_MORE,
            Element::ZeroOrMore => RANK_ZERO_OR_MORE,
        }
    }
}

/// A parsed extension pattern (the text after `_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    elements: Vec<Element>,
    /// Text after a wildcard, which takes no part in matching.
    ignored: String,
}

impl Pattern {
    /// Parses the pattern text that follows the leading `_`.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let chars: Vec<char> = text.chars().collect();
        let mut elements = Vec::new();
        let mut ignored = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '-' => {}
                c if c.is_whitespace() => {}
                'N' | 'n' => elements.push(Element::N),
                'Z' | 'z' => elements.push(Element::Z),
                'X' | 'x' => elements.push(Element::X),
                '.' | '!' => {
                    elements.push(if c == '.' {
                        Element::OneOrMore
                    } else {
                        Element::ZeroOrMore
                    });
                    ignored = chars[i + 1..].iter().collect();
                    break;
                }
                '[' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|&c| c == ']')
                        .ok_or(PatternError::UnclosedSet(i + 1))?;
                    let body = &chars[i + 1..i + 1 + close];
                    elements.push(Element::Set(parse_set(body)?));
                    i += close + 1;
                }
                c => elements.push(Element::Literal(c)),
            }
            i += 1;
        }
        if elements.is_empty() {
            return Err(PatternError::Empty);
        }
        Ok(Pattern { elements, ignored })
    }

    /// Text written after a wildcard, which matching ignores (empty when there is none).
    pub fn ignored_tail(&self) -> &str {
        &self.ignored
    }

    /// True when the whole of `exten` is matched.
    pub fn matches(&self, exten: &str) -> bool {
        let mut chars = exten.chars();
        for element in &self.elements {
            match element {
                Element::OneOrMore => return chars.next().is_some(),
                Element::ZeroOrMore => return true,
                _ => match chars.next() {
                    Some(c) if element.accepts(c) => {}
                    _ => return false,
                },
            }
        }
        chars.next().is_none()
    }

    /// The ranks of the elements, compared lexicographically to order patterns: smaller
    /// is more specific (see the module documentation).
    pub fn specificity(&self) -> Vec<u32> {
        self.elements.iter().map(Element::rank).collect()
    }
}

/// The canonical spelling, with the leading `_`: class letters upper-case, sets sorted and
/// merged, `-` separators and ignored text dropped. Two patterns with the same spelling are
/// the same extension.
impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("_")?;
        for element in &self.elements {
            match element {
                Element::Literal(c) => write!(f, "{c}")?,
                Element::N => f.write_str("N")?,
                Element::Z => f.write_str("Z")?,
                Element::X => f.write_str("X")?,
                Element::OneOrMore => f.write_str(".")?,
                Element::ZeroOrMore => f.write_str("!")?,
                Element::Set(ranges) => {
                    f.write_str("[")?;
                    for &(lo, hi) in ranges {
                        if lo == hi {
                            write!(f, "{lo}")?;
                        } else {
                            write!(f, "{lo}-{hi}")?;
                        }
                    }
                    f.write_str("]")?;
                }
            }
        }
        Ok(())
    }
}

/// The inside of `[...]`: characters and `a-b` ranges; a `-` first or last is literal.
fn parse_set(body: &[char]) -> Result<Vec<(char, char)>, PatternError> {
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let lo = body[i];
        if body.get(i + 1) == Some(&'-')
            && let Some(&hi) = body.get(i + 2)
        {
            if hi < lo {
                return Err(PatternError::BackwardRange(lo, hi));
            }
            ranges.push((lo, hi));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    if ranges.is_empty() {
        return Err(PatternError::EmptySet);
    }
    ranges.sort_unstable();
    let mut merged: Vec<(char, char)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1).saturating_add(1) => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(text: &str) -> Pattern {
        Pattern::parse(text).expect("valid pattern")
    }

    fn matches(pattern: &str, exten: &str) -> bool {
        pat(pattern).matches(exten)
    }

    #[test]
    fn digit_classes() {
        assert!(matches("X", "0"));
        assert!(matches("X", "9"));
        assert!(!matches("X", "a"));
        assert!(matches("Z", "1"));
        assert!(!matches("Z", "0"));
        assert!(matches("N", "2"));
        assert!(!matches("N", "1"));
        assert!(!matches("N", "0"));
    }

    #[test]
    fn class_letters_are_case_insensitive() {
        assert!(matches("nxx", "200"));
        assert!(!matches("nxx", "100"));
        assert!(matches("zx", "10"));
        assert_eq!(pat("nxz").to_string(), "_NXZ");
    }

    #[test]
    fn literals_are_case_sensitive() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "ABC"));
        assert!(matches("s.", "start"));
    }

    #[test]
    fn whole_extension_must_match() {
        assert!(matches("1XX", "100"));
        assert!(!matches("1XX", "10"));
        assert!(!matches("1XX", "1000"));
        assert!(!matches("1XX", ""));
    }

    #[test]
    fn dot_needs_at_least_one_character() {
        assert!(matches("1.", "12"));
        assert!(matches("1.", "1234567"));
        assert!(!matches("1.", "1"));
        assert!(matches(".", "x"));
        assert!(!matches(".", ""));
    }

    #[test]
    fn bang_accepts_nothing_more() {
        assert!(matches("1!", "1"));
        assert!(matches("1!", "123"));
        assert!(!matches("1!", "2"));
        assert!(matches("!", ""));
    }

    #[test]
    fn sets_and_ranges() {
        assert!(matches("[1-5a]", "3"));
        assert!(matches("[1-5a]", "a"));
        assert!(!matches("[1-5a]", "6"));
        assert!(!matches("[1-5a]", "A"));
        assert!(matches("[-5]", "-"));
        assert!(matches("[5-]", "-"));
        assert!(matches("9[0-1][n]", "90n"));
    }

    #[test]
    fn dashes_and_blanks_are_separators() {
        assert!(matches("1-800-NXX-XXXX", "18002345678"));
        assert!(matches("1 2", "12"));
        assert_eq!(pat("1-800-NXX").to_string(), "_1800NXX");
    }

    #[test]
    fn sets_are_canonical() {
        assert_eq!(pat("[3-51-2]").to_string(), "_[1-5]");
        assert_eq!(pat("[ba]").to_string(), "_[a-b]");
        assert_eq!(pat("[13]").to_string(), "_[13]");
        assert_eq!(pat("[1-5][2-3]").to_string(), "_[1-5][2-3]");
    }

    #[test]
    fn text_after_a_wildcard_is_ignored() {
        let p = pat("X.1");
        assert_eq!(p.ignored_tail(), "1");
        assert!(p.matches("22"));
        assert_eq!(p.to_string(), "_X.");
        assert_eq!(pat("X.").ignored_tail(), "");
    }

    #[test]
    fn errors() {
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
        assert_eq!(Pattern::parse("--"), Err(PatternError::Empty));
        assert_eq!(Pattern::parse("1[23"), Err(PatternError::UnclosedSet(2)));
        assert_eq!(Pattern::parse("[]"), Err(PatternError::EmptySet));
        assert_eq!(
            Pattern::parse("[5-1]"),
            Err(PatternError::BackwardRange('5', '1'))
        );
    }

    #[test]
    fn huge_sets_do_not_overflow_the_rank() {
        let p = pat("[\u{0}-\u{10ffff}].");
        assert!(p.specificity()[0] < RANK_ONE_OR_MORE);
        assert!(p.matches("\u{10ffff}x"));
    }

    /// Sorts the patterns, most specific first.
    fn ordered<'a>(patterns: &[&'a str]) -> Vec<&'a str> {
        let mut sorted = patterns.to_vec();
        sorted.sort_by_key(|p| pat(p).specificity());
        sorted
    }

    #[test]
    fn ordering_more_specific_first() {
        assert_eq!(ordered(&["X.", "1.", "1XX"]), ["1XX", "1.", "X."]);
        assert_eq!(ordered(&["1XX", "10X"]), ["10X", "1XX"]);
        assert_eq!(ordered(&["1XX", "1ZX", "1NX"]), ["1NX", "1ZX", "1XX"]);
        assert_eq!(ordered(&["1NX", "1[0-4]X"]), ["1[0-4]X", "1NX"]);
        assert_eq!(ordered(&["1!", "1."]), ["1.", "1!"]);
        assert_eq!(ordered(&["1X!", "1X"]), ["1X", "1X!"]);
        assert_eq!(ordered(&["1.", "1X."]), ["1X.", "1."]);
    }

    #[test]
    fn equal_ranks_keep_their_order() {
        assert_eq!(ordered(&["[12]X", "[13]X"]), ["[12]X", "[13]X"]);
        assert_eq!(ordered(&["[13]X", "[12]X"]), ["[13]X", "[12]X"]);
    }
}
