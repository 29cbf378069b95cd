//! The dialplan's text language: `${...}` substitution, `$[...]` expressions, Asterisk
//! truth, application argument splitting and `Goto`/`GotoIf` targets.
//!
//! Everything here is a pure function of its input (the variable values come from the
//! caller's `lookup`), never panics and reports bad input with a `tracing` warning and an
//! empty result, as Asterisk does.

/// How deeply `${...}` / `$[...]` may nest inside each other; deeper text expands to "".
const MAX_SUBSTITUTION_DEPTH: usize = 64;
/// How deeply parentheses and unary operators may nest in an expression.
const MAX_EXPRESSION_DEPTH: usize = 128;

/// Expands `${VAR}`, `${VAR:offset}`, `${VAR:offset:length}`, nested `${${X}}`, the
/// functions `${LEN(text)}`, `${EXISTS(x)}`, `${ISNULL(x)}`, `${IF(cond?a:b)}`, and
/// `$[expression]`.
///
/// - The inside of `${...}` and `$[...]` is expanded first, so names, arguments and
///   expressions may themselves contain substitutions. Values are not expanded again.
/// - `offset` counts characters from the start, or from the end when negative; `length`
///   is how many characters to keep, or when negative how many to drop from the end; an
///   empty or absent length keeps the rest. The substring applies to functions too.
/// - `lookup` resolves a variable name (the caller gives channel then global variables);
///   unknown variables expand to "". A function other than the built-in ones is passed to
///   `lookup` whole (`CALLERID(num)`), so the caller can provide more functions; one it
///   does not know expands to "" with a warning.
/// - A `${` or `$[` that is never closed is kept as text, with a warning. A `$` that starts
///   neither is kept as it is.
pub fn substitute(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    substitute_at(text, lookup, 0)
}

fn substitute_at(text: &str, lookup: &dyn Fn(&str) -> Option<String>, depth: usize) -> String {
    if depth > MAX_SUBSTITUTION_DEPTH {
        tracing::warn!(
            text,
            "substitutions nest more than {MAX_SUBSTITUTION_DEPTH} deep; expanded to nothing"
        );
        return String::new();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        let (open, close) = match (bytes[i], bytes[i + 1]) {
            (b'$', b'{') => (b'{', b'}'),
            (b'$', b'[') => (b'[', b']'),
            _ => {
                i += 1;
                continue;
            }
        };
        let Some(end) = matching_close(bytes, i + 2, open, close) else {
            tracing::warn!(
                text,
                "`${}` is never closed with `{}`; kept as text",
                char::from(open),
                char::from(close)
            );
            break;
        };
        out.push_str(&text[copied..i]);
        let inner = &text[i + 2..end];
        let inner = if inner.contains('$') {
            substitute_at(inner, lookup, depth + 1)
        } else {
            inner.to_string()
        };
        if open == b'{' {
            out.push_str(&expand_name(&inner, lookup));
        } else {
            out.push_str(&evaluate(&inner));
        }
        i = end + 1;
        copied = i;
    }
    out.push_str(&text[copied..]);
    out
}

/// The index of the `close` that balances an `open` already seen just before `from`.
fn matching_close(bytes: &[u8], from: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 1usize;
    for (offset, &b) in bytes.get(from..)?.iter().enumerate() {
        if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Some(from + offset);
            }
        }
    }
    None
}

/// The value of the (already expanded) inside of `${...}`.
fn expand_name(inner: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let (name, range) = split_substring(inner);
    let value = if let Some(open) = name.find('(')
        && name.ends_with(')')
    {
        let function = name[..open].trim();
        let args = &name[open + 1..name.len() - 1];
        call_function(name, function, args, lookup)
    } else {
        lookup(name).unwrap_or_default()
    };
    match range {
        Some((offset, length)) => substring(&value, offset, length),
        None => value,
    }
}

/// Splits `NAME:offset:length` at the first two colons outside parentheses into the name
/// and, when there is a colon, the offset and the length (`None`: to the end).
fn split_substring(inner: &str) -> (&str, Option<(i64, Option<i64>)>) {
    let mut depth = 0usize;
    let mut colon = None;
    for (at, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                colon = Some(at);
                break;
            }
            _ => {}
        }
    }
    let Some(colon) = colon else {
        return (inner, None);
    };
    let spec = &inner[colon + 1..];
    let (offset_text, length_text) = match spec.split_once(':') {
        Some((o, l)) => (o, Some(l)),
        None => (spec, None),
    };
    let offset = parse_int_loosely(offset_text).unwrap_or(0);
    let length = length_text.and_then(parse_int_loosely);
    (&inner[..colon], Some((offset, length)))
}

/// A number as `atoi` would read it: leading blanks, a sign, digits; `None` when there are
/// no digits at all.
fn parse_int_loosely(text: &str) -> Option<i64> {
    let text = text.trim_start();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    let value = digits[..end].parse::<i64>().unwrap_or(i64::MAX);
    Some(if negative { -value } else { value })
}

/// Asterisk's substring rule, on characters.
fn substring(value: &str, offset: i64, length: Option<i64>) -> String {
    let chars: Vec<char> = value.chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let start = if offset < 0 {
        len.saturating_add(offset).max(0)
    } else {
        offset
    };
    if start >= len {
        return String::new();
    }
    let end = match length {
        None => len,
        Some(n) if n >= 0 => start.saturating_add(n).min(len),
        Some(n) => len.saturating_add(n).max(start),
    };
    let (start, end) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    chars.get(start..end).unwrap_or_default().iter().collect()
}

/// A built-in function, or else the caller's `lookup` of the whole call text.
fn call_function(
    call: &str,
    function: &str,
    args: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> String {
    match function.to_ascii_uppercase().as_str() {
        "LEN" => args.chars().count().to_string(),
        "EXISTS" => bool_text(!args.is_empty()).to_string(),
        "ISNULL" => bool_text(args.is_empty()).to_string(),
        "IF" => {
            let Some((condition, branches)) = args.split_once('?') else {
                tracing::warn!(call, "IF needs `condition?iftrue:iffalse`");
                return String::new();
            };
            let (if_true, if_false) = branches.split_once(':').unwrap_or((branches, ""));
            let chosen = if is_true(condition) {
                if_true
            } else {
                if_false
            };
            strip_quotes(chosen.trim()).to_string()
        }
        _ => match lookup(call) {
            Some(value) => value,
            None => {
                tracing::warn!(call, "unknown dialplan function; expanded to nothing");
                String::new()
            }
        },
    }
}

fn strip_quotes(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

fn bool_text(value: bool) -> &'static str {
    if value { "1" } else { "0" }
}

/// Asterisk truth for `GotoIf`, `ExecIf`, `IF` and `While`: after trimming, an empty
/// string is false, a string that starts with an integer (optionally signed) is true when
/// that integer is not zero (so `0`, `00`, `-0` and `0abc` are false, as C's `sscanf("%d")`
/// reads them), and anything else is true.
pub fn is_true(value: &str) -> bool {
    let value = value.trim();
    if value.is_empty() {
        return false;
    }
    let digits = value
        .strip_prefix(['-', '+'])
        .unwrap_or(value)
        .chars()
        .take_while(char::is_ascii_digit);
    let mut any_digit = false;
    for d in digits {
        if d != '0' {
            return true;
        }
        any_digit = true;
    }
    !any_digit
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// A `"` opens a string that never ends.
    #[error("quoted string is never closed")]
    UnclosedQuote,
    /// An operator Asterisk has that wari does not evaluate (the matches `=~` and `:`, the
    /// conditional `?:`).
    #[error("operator `{0}` is not supported")]
    Unsupported(String),
    /// The expression stops where an operand or `)` must follow.
    #[error("unexpected end of expression")]
    UnexpectedEnd,
    /// A token where none of its kind may stand.
    #[error("unexpected `{0}`")]
    Unexpected(String),
    /// An arithmetic operand that is not a whole number.
    #[error("`{0}` is not an integer")]
    NotANumber(String),
    /// `/` or `%` by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// A result beyond 64-bit signed integers.
    #[error("integer overflow")]
    Overflow,
    /// Parentheses or operators nest deeper than a malicious expression may make the
    /// evaluator go.
    #[error("expression nests more than {MAX_EXPRESSION_DEPTH} deep")]
    TooDeep,
}

/// Evaluates the inside of `$[...]` in Asterisk's expression language.
///
/// Operands are integers and strings: unquoted words, and `"quoted strings"` (quotes
/// removed, `\` escapes the next character). Operators, loosest first: `|`, `&`,
/// comparisons `= == != < > <= >=`, `+ -`, `* / %`, then unary `-` and `!`; parentheses
/// group. Arithmetic is on 64-bit integers (division truncates); comparisons are numeric
/// when both sides read as integers, else by string, and give `1` or `0`. `a | b` is `a`
/// when `a` is true, else `b`; `a & b` is `a` when both are true, else `0`; `!a` is `1`
/// when `a` is false (empty or a zero integer). A lone operand is returned as written.
///
/// Syntax errors, arithmetic on non-numbers, overflow and division by zero give "" and a
/// warning. The regular expression operators `:` and `=~` and the `?:` conditional are
/// not supported (an error, so "").
pub fn evaluate(expression: &str) -> String {
    match try_evaluate(expression) {
        Ok(value) => value,
        Err(err) => {
            tracing::warn!(expression, "cannot evaluate $[...]: {err}");
            String::new()
        }
    }
}

/// [`evaluate`], telling why it failed.
pub fn try_evaluate(expression: &str) -> Result<String, ExprError> {
    let tokens = tokenize(expression)?;
    if tokens.is_empty() {
        return Ok(String::new());
    }
    let mut parser = ExprParser {
        tokens: &tokens,
        at: 0,
        depth: 0,
    };
    let value = parser.or()?;
    match parser.tokens.get(parser.at) {
        None => Ok(value),
        Some(token) => Err(ExprError::Unexpected(token.to_string())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Not,
    Open,
    Close,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Or => "|",
            Op::And => "&",
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Rem => "%",
            Op::Not => "!",
            Op::Open => "(",
            Op::Close => ")",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Value(String),
    Op(Op),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Value(v) => f.write_str(v),
            Token::Op(op) => f.write_str(op.text()),
        }
    }
}

/// Characters that end an unquoted word.
fn is_operator_char(c: char) -> bool {
    matches!(
        c,
        '|' | '&'
            | '='
            | '!'
            | '<'
            | '>'
            | '+'
            | '-'
            | '*'
            | '/'
            | '%'
            | '('
            | ')'
            | '"'
            | ':'
            | '?'
    )
}

fn tokenize(expression: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = expression.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let (op, width) = match (c, next) {
            (c, _) if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ('"', _) => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(ExprError::UnclosedQuote),
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(&escaped) = chars.get(i + 1) {
                                text.push(escaped);
                            }
                            i += 2;
                            continue;
                        }
                        Some(&other) => text.push(other),
                    }
                    i += 1;
                }
                tokens.push(Token::Value(text));
                i += 1;
                continue;
            }
            ('=', Some('~')) => return Err(ExprError::Unsupported("=~".into())),
            (':', Some(':')) => return Err(ExprError::Unsupported("::".into())),
            (':' | '?', _) => return Err(ExprError::Unsupported(c.to_string())),
            ('=', Some('=')) => (Op::Eq, 2),
            ('!', Some('=')) => (Op::Ne, 2),
            ('<', Some('=')) => (Op::Le, 2),
            ('>', Some('=')) => (Op::Ge, 2),
            ('|', _) => (Op::Or, 1),
            ('&', _) => (Op::And, 1),
            ('=', _) => (Op::Eq, 1),
            ('!', _) => (Op::Not, 1),
            ('<', _) => (Op::Lt, 1),
            ('>', _) => (Op::Gt, 1),
            ('+', _) => (Op::Add, 1),
            ('-', _) => (Op::Sub, 1),
            ('*', _) => (Op::Mul, 1),
            ('/', _) => (Op::Div, 1),
            ('%', _) => (Op::Rem, 1),
            ('(', _) => (Op::Open, 1),
            (')', _) => (Op::Close, 1),
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !is_operator_char(chars[i]) {
                    i += 1;
                }
                tokens.push(Token::Value(chars[start..i].iter().collect()));
                continue;
            }
        };
        tokens.push(Token::Op(op));
        i += width;
    }
    Ok(tokens)
}

/// Recursive descent over the tokens, loosest operator first.
struct ExprParser<'a> {
    tokens: &'a [Token],
    at: usize,
    depth: usize,
}

impl ExprParser<'_> {
    /// Consumes the next token when it is one of `ops`.
    fn take(&mut self, ops: &[Op]) -> Option<Op> {
        match self.tokens.get(self.at) {
            Some(Token::Op(op)) if ops.contains(op) => {
                self.at += 1;
                Some(*op)
            }
            _ => None,
        }
    }

    fn or(&mut self) -> Result<String, ExprError> {
        let mut left = self.and()?;
        while self.take(&[Op::Or]).is_some() {
            let right = self.and()?;
            left = if truthy(&left) { left } else { right };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<String, ExprError> {
        let mut left = self.comparison()?;
        while self.take(&[Op::And]).is_some() {
            let right = self.comparison()?;
            if !(truthy(&left) && truthy(&right)) {
                left = "0".to_string();
            }
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<String, ExprError> {
        let mut left = self.additive()?;
        while let Some(op) = self.take(&[Op::Eq, Op::Ne, Op::Lt, Op::Gt, Op::Le, Op::Ge]) {
            let right = self.additive()?;
            let ordering = match (integer(&left), integer(&right)) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => left.as_str().cmp(right.as_str()),
            };
            let result = match op {
                Op::Eq => ordering.is_eq(),
                Op::Ne => ordering.is_ne(),
                Op::Lt => ordering.is_lt(),
                Op::Gt => ordering.is_gt(),
                Op::Le => ordering.is_le(),
                _ => ordering.is_ge(),
            };
            left = bool_text(result).to_string();
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<String, ExprError> {
        let mut left = self.multiplicative()?;
        while let Some(op) = self.take(&[Op::Add, Op::Sub]) {
            let right = self.multiplicative()?;
            let (a, b) = (number(&left)?, number(&right)?);
            let result = if op == Op::Add {
                a.checked_add(b)
            } else {
                a.checked_sub(b)
            };
            left = result.ok_or(ExprError::Overflow)?.to_string();
        }
        Ok(left)
    }

    fn multiplicative(&mut self) -> Result<String, ExprError> {
        let mut left = self.unary()?;
        while let Some(op) = self.take(&[Op::Mul, Op::Div, Op::Rem]) {
            let right = self.unary()?;
            let (a, b) = (number(&left)?, number(&right)?);
            if op != Op::Mul && b == 0 {
                return Err(ExprError::DivisionByZero);
            }
            let result = match op {
                Op::Mul => a.checked_mul(b),
                Op::Div => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            left = result.ok_or(ExprError::Overflow)?.to_string();
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<String, ExprError> {
        self.depth += 1;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return Err(ExprError::TooDeep);
        }
        let result = match self.take(&[Op::Sub, Op::Not]) {
            Some(Op::Sub) => {
                let operand = self.unary()?;
                number(&operand)?
                    .checked_neg()
                    .ok_or(ExprError::Overflow)
                    .map(|n| n.to_string())
            }
            Some(_) => {
                let operand = self.unary()?;
                Ok(bool_text(!truthy(&operand)).to_string())
            }
            None => self.primary(),
        };
        self.depth -= 1;
        result
    }

    fn primary(&mut self) -> Result<String, ExprError> {
        let token = self.tokens.get(self.at).ok_or(ExprError::UnexpectedEnd)?;
        self.at += 1;
        match token {
            Token::Value(text) => Ok(text.clone()),
            Token::Op(Op::Open) => {
                let inner = self.or()?;
                match self.take(&[Op::Close]) {
                    Some(_) => Ok(inner),
                    None => match self.tokens.get(self.at) {
                        Some(other) => Err(ExprError::Unexpected(other.to_string())),
                        None => Err(ExprError::UnexpectedEnd),
                    },
                }
            }
            Token::Op(op) => Err(ExprError::Unexpected(op.text().to_string())),
        }
    }
}

/// The operand as an integer, when it is written as one (optional sign, digits).
fn integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn number(text: &str) -> Result<i64, ExprError> {
    integer(text).ok_or_else(|| ExprError::NotANumber(text.to_string()))
}

/// Expression truth: empty and integer zero are false.
fn truthy(text: &str) -> bool {
    match integer(text) {
        Some(n) => n != 0,
        None => !text.is_empty(),
    }
}

/// Splits application data at top-level commas.
///
/// Commas inside `(...)`, `[...]` or double quotes do not split; the double quotes
/// themselves are removed (brackets inside quotes are not counted); a backslash is removed
/// and takes the next character literally (a trailing backslash is kept). Arguments are not
/// trimmed. `""` gives one empty argument.
pub fn split_args(data: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut parens = 0usize;
    let mut brackets = 0usize;
    let mut quoted = false;
    let mut chars = data.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => current.push(next),
                None => current.push('\\'),
            },
            '"' => quoted = !quoted,
            ',' if !quoted && parens == 0 && brackets == 0 => {
                args.push(std::mem::take(&mut current));
            }
            _ => {
                if !quoted {
                    match c {
                        '(' => parens += 1,
                        ')' => parens = parens.saturating_sub(1),
                        '[' => brackets += 1,
                        ']' => brackets = brackets.saturating_sub(1),
                        _ => {}
                    }
                }
                current.push(c);
            }
        }
    }
    args.push(current);
    args
}

/// A priority as a `Goto` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriorityRef {
    /// A priority number (1 or more).
    Number(u32),
    /// A label defined with `n(label)` or `NUM(label)`.
    Label(String),
}

/// Where a `Goto` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GotoTarget {
    /// The context; the current one when the `Goto` names none.
    pub context: String,
    /// The extension; the current one when the `Goto` names only a priority.
    pub exten: String,
    /// The priority, by number or label.
    pub priority: PriorityRef,
}

/// Parses a `Goto` target: `prio`, `exten,prio` or `context,exten,prio`, relative to the
/// current context and extension; an empty context or extension means the current one.
/// Parts are trimmed. A priority of digits is a number (0 is invalid), anything else is a
/// label. `None` for an empty priority, a zero priority, or more than three parts.
pub fn parse_goto(data: &str, current_context: &str, current_exten: &str) -> Option<GotoTarget> {
    let parts: Vec<&str> = data.split(',').map(str::trim).collect();
    let (context, exten, priority) = match parts.as_slice() {
        [priority] => (current_context, current_exten, *priority),
        [exten, priority] => (current_context, *exten, *priority),
        [context, exten, priority] => (*context, *exten, *priority),
        _ => return None,
    };
    let context = if context.is_empty() {
        current_context
    } else {
        context
    };
    let exten = if exten.is_empty() {
        current_exten
    } else {
        exten
    };
    let priority = if priority.is_empty() {
        return None;
    } else if priority.bytes().all(|b| b.is_ascii_digit()) {
        match priority.parse::<u32>() {
            Ok(n) if n > 0 => PriorityRef::Number(n),
            _ => return None,
        }
    } else {
        PriorityRef::Label(priority.to_string())
    };
    Some(GotoTarget {
        context: context.to_string(),
        exten: exten.to_string(),
        priority,
    })
}

/// Splits `GotoIf` data `condition?iftrue:iffalse` at the first `?` and then the first
/// `:` into (condition, true target, false target). Parts are trimmed; an empty or absent
/// branch is `None` (no `?` at all gives two `None`s).
pub fn parse_gotoif(data: &str) -> (String, Option<String>, Option<String>) {
    let Some((condition, branches)) = data.split_once('?') else {
        return (data.trim().to_string(), None, None);
    };
    let (if_true, if_false) = match branches.split_once(':') {
        Some((t, f)) => (t, Some(f)),
        None => (branches, None),
    };
    let branch = |text: &str| {
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_string())
    };
    (
        condition.trim().to_string(),
        branch(if_true),
        if_false.and_then(branch),
    )
}

#[cfg(test)]
mod tests;
