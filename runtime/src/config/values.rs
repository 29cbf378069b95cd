//! Value syntax shared by Asterisk configuration files: booleans, numbers, comma lists.

/// Asterisk's notion of "true": `yes`, `true`, `y`, `t`, `1`, `on` (any case).
pub(crate) fn is_true(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "yes" | "true" | "y" | "t" | "1" | "on"
    )
}

/// Asterisk's notion of "false": `no`, `false`, `n`, `f`, `0`, `off` (any case).
pub(crate) fn is_false(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "no" | "false" | "n" | "f" | "0" | "off"
    )
}

/// Parses a boolean option strictly: `None` when the value is neither true nor false.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    if is_true(value) {
        Some(true)
    } else if is_false(value) {
        Some(false)
    } else {
        None
    }
}

/// Reads an option with `parse`; a value it refuses is reported as an error naming the
/// option and what was `expected`, at the entry's file and line, and gives `None`.
fn option<T>(
    entry: &super::conf_file::Entry,
    problems: &mut super::diagnostics::Problems,
    parse: impl FnOnce(&str) -> Option<T>,
    expected: &str,
) -> Option<T> {
    let value = entry.value.trim();
    let parsed = parse(value);
    if parsed.is_none() {
        problems.error(
            &entry.location,
            format!(
                "invalid value '{value}' for {}: expected {expected}",
                entry.key
            ),
        );
    }
    parsed
}

/// Reads a boolean option (Asterisk's yes/no words).
pub(crate) fn bool_option(
    entry: &super::conf_file::Entry,
    problems: &mut super::diagnostics::Problems,
) -> Option<bool> {
    option(entry, problems, parse_bool, "yes or no")
}

/// Reads a whole number of at least `min`.
pub(crate) fn number_option(
    entry: &super::conf_file::Entry,
    problems: &mut super::diagnostics::Problems,
    min: u64,
) -> Option<u64> {
    option(
        entry,
        problems,
        |v| v.parse::<u64>().ok().filter(|n| *n >= min),
        &format!("a whole number of at least {min}"),
    )
}

/// Reads a duration given in milliseconds.
pub(crate) fn millis_option(
    entry: &super::conf_file::Entry,
    problems: &mut super::diagnostics::Problems,
) -> Option<std::time::Duration> {
    option(
        entry,
        problems,
        |v| v.parse::<u64>().ok().map(std::time::Duration::from_millis),
        "milliseconds",
    )
}

/// Splits a comma list, trimming each item and dropping empty ones.
pub(crate) fn comma_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_asterisk_words() {
        for t in ["yes", "TRUE", "y", "t", "1", "On"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["no", "False", "n", "f", "0", "off"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert!(!is_true("maybe"));
    }

    #[test]
    fn comma_lists_trim_and_skip_empty() {
        let items: Vec<_> = comma_list(" a, b ,,c ").collect();
        assert_eq!(items, ["a", "b", "c"]);
    }
}
