//! [`QueryError`]: the one error the query parser returns.
//!
//! It carries what the HTTP layer needs for `400 QUERY_SYNTAX` (API.md §8): the character
//! offset of the fault (`details.position`) and a human list of what would have been valid
//! there (`details.expected`).

/// A syntax error in a query, pointing at the fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    /// Character (not byte) offset of the fault in the input; the input's length in characters
    /// when the query ended too early.
    pub position: usize,
    /// What would have been valid there, as a human list: ``"`and`, `or` or `)`"``.
    pub expected: String,
    /// What was found instead: a token in backticks, or `end of query`.
    pub found: String,
    /// The whole sentence, `expected X at position N, found Y`, sometimes followed by a hint in
    /// parentheses. This is also the `Display` text.
    pub message: String,
}

impl QueryError {
    /// An error at `position`; the message is built from the parts.
    pub(crate) fn new(
        position: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        let (expected, found) = (expected.into(), found.into());
        let message = format!("expected {expected} at position {position}, found {found}");
        QueryError {
            position,
            expected,
            found,
            message,
        }
    }

    /// Appends a hint that says why, or what to write instead.
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.message = format!("{} ({note})", self.message);
        self
    }
}

/// `["a", "b", "c"]` → `"a, b or c"`.
pub(crate) fn human_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
