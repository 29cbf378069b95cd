//! Dialplan functions read and written without a channel, as ARI reaches them: bridge
//! variables named like `LEN(abc)` (`GET /bridges/{id}/variables`) and global variables
//! set through `GLOBAL(name)` (`POST /asterisk/variable`).
//!
//! Only functions that need no channel are known: `LEN`, `EXISTS`, `ISNULL` and `GLOBAL`.

use super::Core;

/// `NAME(args)` split into the upper-cased name and the arguments; `None` when `call` is
/// not a function call.
fn split_call(call: &str) -> Option<(String, &str)> {
    let open = call.find('(')?;
    let args = call[open + 1..].strip_suffix(')')?;
    let name = call[..open].trim();
    if name.is_empty() {
        return None;
    }
    Some((name.to_ascii_uppercase(), args))
}

/// The name a `GLOBAL(name)` call writes, if `call` is one.
pub fn global_target(call: &str) -> Option<&str> {
    let (name, args) = split_call(call)?;
    (name == "GLOBAL").then(|| args.trim())
}

impl Core {
    /// Reads function call `call` (`LEN(abc)`) without a channel; `None` when the
    /// function is not one wari knows.
    pub fn read_function(&self, call: &str) -> Option<String> {
        let (name, args) = split_call(call)?;
        Some(match name.as_str() {
            "LEN" => args.chars().count().to_string(),
            "EXISTS" => bool_digit(!args.is_empty()),
            "ISNULL" => bool_digit(args.is_empty()),
            "GLOBAL" => self.global_var(args.trim()),
            _ => return None,
        })
    }
}

fn bool_digit(value: bool) -> String {
    if value { "1" } else { "0" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_split_and_global_targets_found() {
        assert_eq!(split_call("len(abc)"), Some(("LEN".to_string(), "abc")));
        assert_eq!(split_call("LEN(a(b))"), Some(("LEN".to_string(), "a(b)")));
        assert_eq!(split_call("PLAIN"), None);
        assert_eq!(split_call("(x)"), None);
        assert_eq!(global_target("GLOBAL( X )"), Some("X"));
        assert_eq!(global_target("LEN(X)"), None);
    }
}
