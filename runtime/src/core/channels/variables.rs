//! A channel's variables: a small map kept as a sorted vector.
//!
//! Almost every channel has a handful of variables (often just `STASISSTATUS`), and
//! thousands of channels are up at once. A `BTreeMap` allocates a whole node (about half a
//! kilobyte for `String` pairs) for its first entry; a sorted vector of pairs allocates
//! what it holds. Iteration is in name order, as a `BTreeMap`'s was.

/// Variable names and values, sorted by name, each name once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables(Vec<(String, String)>);

impl Variables {
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    /// Sets `name` to `value`; returns the value it replaced.
    pub fn insert(&mut self, name: String, value: String) -> Option<String> {
        match self.position(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                if self.0.capacity() == 0 {
                    self.0.reserve_exact(2);
                }
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Unsets `name`; returns the value it had.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.position(name).ok().map(|i| self.0.remove(i).1)
    }

    /// Names and values in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &String)> {
        self.0.iter().map(|(n, v)| (n, v))
    }
}

impl FromIterator<(String, String)> for Variables {
    /// Later pairs win over earlier ones with the same name.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Variables {
        let mut vars = Variables::default();
        for (name, value) in pairs {
            vars.insert(name, value);
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kept_sorted_and_unique() {
        let mut vars = Variables::default();
        assert_eq!(vars.insert("B".into(), "2".into()), None);
        assert_eq!(vars.insert("A".into(), "1".into()), None);
        assert_eq!(vars.insert("C".into(), "3".into()), None);
        assert_eq!(vars.insert("B".into(), "two".into()), Some("2".into()));
        let names: Vec<_> = vars.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(names, ["A=1", "B=two", "C=3"]);
        assert_eq!(vars.iter().next_back().map(|(n, _)| n.as_str()), Some("C"));
        assert_eq!(vars.get("B").map(String::as_str), Some("two"));
        assert_eq!(vars.get("b"), None);
        assert_eq!(vars.remove("A"), Some("1".into()));
        assert_eq!(vars.remove("A"), None);
        assert_eq!(vars.iter().count(), 2);
    }

    #[test]
    fn collecting_keeps_the_last_value_of_a_name() {
        let vars: Variables = [("X".to_string(), "1".to_string()), ("X".into(), "2".into())]
            .into_iter()
            .collect();
        assert_eq!(vars.iter().count(), 1);
        assert_eq!(vars.get("X").map(String::as_str), Some("2"));
    }
}
