//! Dialplan functions, wherever a variable name is accepted: ARI's channel, bridge and
//! global variable operations, originate and create `variables`, dialplan `Set()` and
//! `${...}`. One parser ([`parse`]) names the function; reading needs a channel only for
//! the identities (`CALLERID(name|num|all)`, `CONNECTEDLINE(name|num|all)`); `LEN`,
//! `EXISTS`, `ISNULL` and `GLOBAL` need none. A function wari does not know here is asked
//! of the technologies (`Technology::read_function`: SIP's `PJSIP_DIAL_CONTACTS`).
//! Writing identities is [`super::channels::identity`]'s.

use super::Core;
use super::channels::channel::{CallerId, Channel};

/// A dialplan function wari knows, with its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function<'a> {
    Caller(Part),
    Connected(Part),
    Global(&'a str),
    Len(&'a str),
    Exists(&'a str),
    IsNull(&'a str),
}

/// Which part of an identity a function names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Name,
    Number,
    All,
}

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

/// The function `name` stands for, if wari knows it (names are case-insensitive).
pub(crate) fn parse(name: &str) -> Option<Function<'_>> {
    let (function, argument) = split_call(name)?;
    let part = || match argument.trim().to_ascii_lowercase().as_str() {
        "name" => Some(Part::Name),
        "num" | "number" => Some(Part::Number),
        "all" => Some(Part::All),
        _ => None,
    };
    match function.as_str() {
        "CALLERID" => part().map(Function::Caller),
        "CONNECTEDLINE" => part().map(Function::Connected),
        "GLOBAL" if !argument.trim().is_empty() => Some(Function::Global(argument.trim())),
        "LEN" => Some(Function::Len(argument)),
        "EXISTS" => Some(Function::Exists(argument)),
        "ISNULL" => Some(Function::IsNull(argument)),
        _ => None,
    }
}

/// The name a `GLOBAL(name)` call writes, if `call` is one.
pub(crate) fn global_target(call: &str) -> Option<&str> {
    match parse(call)? {
        Function::Global(name) => Some(name),
        _ => None,
    }
}

/// `"Name" <number>`, as Asterisk 23.4.1 reads `CALLERID(all)` (`"" <>` when empty).
fn merged(id: &CallerId) -> String {
    format!("\"{}\" <{}>", id.name, id.number)
}

pub(crate) fn read_part(id: &CallerId, part: Part) -> String {
    match part {
        Part::Name => id.name.clone(),
        Part::Number => id.number.clone(),
        Part::All => merged(id),
    }
}

pub(crate) fn write_part(id: &CallerId, part: Part, value: &str) -> CallerId {
    let mut new = id.clone();
    match part {
        Part::Name => new.name = value.to_string(),
        Part::Number => new.number = value.to_string(),
        Part::All => new = CallerId::parse(value),
    }
    new
}

impl Core {
    /// Reads `name` when it is a function wari knows (its own, else one a technology
    /// provides, as `PJSIP_DIAL_CONTACTS`); `None` for a plain variable, an unknown
    /// function, a technology's function that cannot be read, or an identity function
    /// read without a channel.
    pub(in crate::core) fn read_function(
        &self,
        channel: Option<&Channel>,
        name: &str,
    ) -> Option<String> {
        let Some(function) = parse(name) else {
            let (function, args) = split_call(name)?;
            return self
                .technologies
                .iter()
                .find_map(|t| t.read_function(&function, args));
        };
        Some(match function {
            Function::Global(global) => self.control().global_var(global),
            Function::Len(args) => args.chars().count().to_string(),
            Function::Exists(args) => bool_digit(!args.is_empty()),
            Function::IsNull(args) => bool_digit(args.is_empty()),
            Function::Caller(part) => read_part(&channel?.caller, part),
            Function::Connected(part) => read_part(&channel?.connected, part),
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
        assert_eq!(global_target("GLOBAL()"), None);
        assert_eq!(global_target("LEN(X)"), None);
    }

    #[test]
    fn function_names() {
        assert_eq!(parse("CALLERID(num)"), Some(Function::Caller(Part::Number)));
        assert_eq!(parse("callerid(Name)"), Some(Function::Caller(Part::Name)));
        assert_eq!(
            parse("CONNECTEDLINE(all)"),
            Some(Function::Connected(Part::All))
        );
        assert_eq!(parse("GLOBAL(LAST)"), Some(Function::Global("LAST")));
        assert_eq!(parse("GLOBAL()"), None);
        assert_eq!(parse("CALLERID(ani)"), None);
        assert_eq!(parse("FOO"), None);
        assert_eq!(parse("FOO(bar)"), None);
        assert_eq!(parse("len(abc)"), Some(Function::Len("abc")));
    }

    #[test]
    fn merged_identities() {
        let both = CallerId::parse("\"Zed\" <777>");
        assert_eq!(merged(&both), "\"Zed\" <777>");
        assert_eq!(read_part(&both, Part::All), "\"Zed\" <777>");
        assert_eq!(merged(&CallerId::parse("777")), "\"\" <777>");
        assert_eq!(merged(&CallerId::default()), "\"\" <>");
        assert_eq!(write_part(&both, Part::Name, "Ann").name, "Ann");
        assert_eq!(write_part(&both, Part::All, "<1>"), CallerId::parse("<1>"));
    }
}
