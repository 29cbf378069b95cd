//! `test_phones.conf`: behaviour of named `Test/NAME` simulated phones, one section each.
//!
//! ```ini
//! [alice]
//! answer = 200        ; ring 200 ms, then answer
//! dtmf = 12#          ; then press these keys
//! hangup = 5000       ; and hang up 5 s after answering
//!
//! [bob]
//! busy = yes
//! ```
//!
//! Options are the same words as in dial strings (`Test/alice/answer=200`); the dial string
//! wins over the section.

use super::conf_file::ConfFile;
use super::diagnostics::{Location, Problems};
use super::values::bool_option;

/// One configured phone: its name and its options in dial-string form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPhone {
    /// The section name; the phone is dialled as `Test/<name>`.
    pub name: String,
    /// The section's entries as `key=value` options, in file order.
    pub options: Vec<String>,
    /// Where the section starts, for problems found later.
    pub location: Location,
}

/// Reads every section as a phone.
pub fn read(file: Option<&ConfFile>, problems: &mut Problems) -> Vec<TestPhone> {
    let Some(file) = file else {
        return Vec::new();
    };
    let mut phones = Vec::new();
    for section in file.sections() {
        let mut options = Vec::new();
        for entry in &section.entries {
            let key = entry.key.to_ascii_lowercase();
            match key.as_str() {
                "answer" | "hangup" | "dtmf" => {
                    options.push(format!("{key}={}", entry.value.trim()));
                }
                "noanswer" | "busy" | "congestion" => {
                    if bool_option(entry, problems) == Some(true) {
                        options.push(key);
                    }
                }
                _ => problems.warn(
                    &entry.location,
                    format!(
                        "unknown option '{}' for Test phone [{}] (ignored)",
                        entry.key, section.name
                    ),
                ),
            }
        }
        phones.push(TestPhone {
            name: section.name.clone(),
            options,
            location: section.location.clone(),
        });
    }
    phones
}
