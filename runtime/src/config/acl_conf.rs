//! `acl.conf`: named access control lists that users and HTTP restrictions refer to with
//! `acl = name`.

use std::collections::HashMap;
use std::sync::Arc;

use super::conf_file::{ConfFile, Entry};
use super::diagnostics::Problems;
use crate::acl::{Acl, NamedList, RuleList};

/// The named lists of `acl.conf`, by section name.
#[derive(Debug, Clone, Default)]
pub struct NamedAcls {
    lists: HashMap<String, Arc<RuleList>>,
}

impl NamedAcls {
    /// Reads every section of `acl.conf` as a named list. A section with an invalid entry is
    /// left out (so references to it deny everything) and reported.
    pub fn read(file: Option<&ConfFile>, problems: &mut Problems) -> NamedAcls {
        let mut lists = HashMap::new();
        let Some(file) = file else {
            return NamedAcls { lists };
        };
        for section in file.sections() {
            let mut list = RuleList::default();
            let mut valid = true;
            for entry in &section.entries {
                match entry.key.to_ascii_lowercase().as_str() {
                    "permit" | "deny" => {
                        let permit = entry.key.eq_ignore_ascii_case("permit");
                        if let Err(e) = list.add_entries(&entry.value, permit) {
                            problems.error(
                                &entry.location,
                                format!("invalid {} in ACL [{}]: {e}", entry.key, section.name),
                            );
                            valid = false;
                        }
                    }
                    _ => problems.warn(
                        &entry.location,
                        format!(
                            "unknown option '{}' in ACL [{}] (ignored)",
                            entry.key, section.name
                        ),
                    ),
                }
            }
            if lists.contains_key(&section.name) {
                problems.error(
                    &section.location,
                    format!("ACL [{}] is defined twice", section.name),
                );
                valid = false;
            }
            if valid {
                lists.insert(section.name.clone(), Arc::new(list));
            }
        }
        NamedAcls { lists }
    }

    /// Looks a list up by name.
    pub fn get(&self, name: &str) -> Option<&Arc<RuleList>> {
        self.lists.get(name)
    }
}

/// Collects an [`Acl`] from the `permit`, `deny` and `acl` entries of a section.
///
/// Returns `None` (after reporting) when an entry is invalid. Entries with other keys are
/// ignored here; the caller handles them. `what` names the owner in messages ("user alice").
pub fn acl_from_entries<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    named: &NamedAcls,
    what: &str,
    problems: &mut Problems,
) -> Option<Acl> {
    let mut acl = Acl::default();
    let mut valid = true;
    for entry in entries {
        let key = entry.key.to_ascii_lowercase();
        match key.as_str() {
            "permit" | "deny" => {
                if let Err(e) = acl.baseline.add_entries(&entry.value, key == "permit") {
                    problems.error(&entry.location, format!("invalid {key} for {what}: {e}"));
                    valid = false;
                }
            }
            "acl" => {
                for name in super::values::comma_list(&entry.value) {
                    match named.get(name) {
                        Some(list) => acl
                            .named
                            .push(NamedList::Found(name.to_string(), list.clone())),
                        None => {
                            problems.warn(
                                &entry.location,
                                format!(
                                    "{what} refers to ACL '{name}', which acl.conf does not \
                                     define: every address will be denied"
                                ),
                            );
                            acl.named.push(NamedList::Missing(name.to_string()));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    valid.then_some(acl)
}
