//! `chan_websocket.conf`: settings of the WebSocket media channels (`externalMedia` with
//! `transport=websocket`), in its `[global]` section as Asterisk reads it.
//!
//! ```ini
//! [global]
//! control_message_format = plain-text  ; or json (Asterisk's option)
//! answer_timeout = 30                  ; wari's: seconds, at least 1
//! ```
//!
//! - `control_message_format`: the form of control messages when the channel's `f()`
//!   option does not say (Asterisk's default `plain-text`).
//! - `answer_timeout` (wari's): how long a WebSocket media channel may stay unanswered
//!   (its application has not connected to `/media/<connection id>`, or, with the `n`
//!   option, not sent `ANSWER`; or wari's own connection is not up) before it is hung up
//!   with cause 19, no answer. Asterisk's originate gives it a fixed 30 s, the default.

use std::time::Duration;

use super::conf_file::ConfFile;
use super::diagnostics::Problems;
use super::values::number_option;

/// The only section Asterisk reads.
const GLOBAL: &str = "global";

/// Asterisk's originate timeout, the default `answer_timeout`.
pub const DEFAULT_ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest `answer_timeout` (a day).
const MAX_ANSWER_TIMEOUT_SECS: u64 = 86_400;

/// `control_message_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlMessageFormat {
    /// `plain-text` (default): single-line messages.
    #[default]
    PlainText,
    /// `json`: JSON messages.
    Json,
}

/// chan_websocket.conf as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChanWebSocketConfig {
    /// `control_message_format`.
    pub control_message_format: ControlMessageFormat,
    /// `answer_timeout`.
    pub answer_timeout: Duration,
}

impl Default for ChanWebSocketConfig {
    fn default() -> Self {
        ChanWebSocketConfig {
            control_message_format: ControlMessageFormat::PlainText,
            answer_timeout: DEFAULT_ANSWER_TIMEOUT,
        }
    }
}

impl ChanWebSocketConfig {
    /// Reads `[global]` (absent file or section: the defaults); other sections and
    /// unknown options are reported and ignored, bad values reported and left at their
    /// default.
    pub fn read(file: Option<&ConfFile>, problems: &mut Problems) -> Self {
        let mut config = ChanWebSocketConfig::default();
        for section in file.into_iter().flat_map(|f| f.sections()) {
            if section.name != GLOBAL {
                problems.warn(
                    &section.location,
                    format!(
                        "chan_websocket.conf has only a [global] section: [{}] ignored",
                        section.name
                    ),
                );
                continue;
            }
            for entry in &section.entries {
                match entry.key.to_ascii_lowercase().as_str() {
                    "control_message_format" => match entry.value.trim() {
                        "plain-text" => {
                            config.control_message_format = ControlMessageFormat::PlainText
                        }
                        "json" => config.control_message_format = ControlMessageFormat::Json,
                        other => problems.error(
                            &entry.location,
                            format!(
                                "invalid value '{other}' for control_message_format: expected \
                                 plain-text or json"
                            ),
                        ),
                    },
                    "answer_timeout" => {
                        if let Some(secs) = number_option(entry, problems, 1) {
                            config.answer_timeout =
                                Duration::from_secs(secs.min(MAX_ANSWER_TIMEOUT_SECS));
                        }
                    }
                    _ => problems.warn(
                        &entry.location,
                        format!("unknown option '{}' in [global] (ignored)", entry.key),
                    ),
                }
            }
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (ChanWebSocketConfig, Problems) {
        let mut problems = Problems::default();
        let file = super::super::conf_file::parse_str(
            std::path::Path::new("chan_websocket.conf"),
            text,
            &mut problems,
        );
        let config = ChanWebSocketConfig::read(Some(&file), &mut problems);
        (config, problems)
    }

    #[test]
    fn without_a_file_asterisks_thirty_seconds_and_plain_text() {
        let mut problems = Problems::default();
        let config = ChanWebSocketConfig::read(None, &mut problems);
        assert_eq!(config.answer_timeout, Duration::from_secs(30));
        assert_eq!(
            config.control_message_format,
            ControlMessageFormat::PlainText
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn global_options_are_read_and_bad_values_reported_at_their_line() {
        let (config, problems) =
            read("[global]\ncontrol_message_format = json\nanswer_timeout = 5\n");
        assert_eq!(config.answer_timeout, Duration::from_secs(5));
        assert_eq!(config.control_message_format, ControlMessageFormat::Json);
        assert!(problems.is_empty(), "{problems:?}");

        let (config, problems) = read(
            "[global]\nanswer_timeout = 0\ncontrol_message_format = xml\nlouder = yes\n\
             [other]\nanswer_timeout = 3\n",
        );
        assert_eq!(config, ChanWebSocketConfig::default());
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(text[0].contains(":2:") && text[0].contains("answer_timeout"));
        assert!(text[1].contains(":3:") && text[1].contains("control_message_format"));
        assert!(text[2].contains(":4:") && text[2].contains("louder"));
        assert!(text[3].contains("[other]"));
    }
}
