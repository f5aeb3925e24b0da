//! The CLI's progress bar: on stderr, only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar, or nothing (not a terminal, or the HTTP side).
#[derive(Default)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// No bar.
    pub fn hidden() -> Progress {
        Progress(None)
    }

    /// A bar over `total` bytes (an import of a file), when stderr is a terminal.
    pub fn bytes(total: Option<u64>) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{spinner} {bytes}/{total_bytes} [{wide_bar}] {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        Progress(Some(bar))
    }

    /// A counter of objects (an export or a copy), when stderr is a terminal.
    pub fn objects() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {pos} objects {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Progress(Some(bar))
    }

    pub fn set(&self, position: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(position);
        }
    }

    pub fn message(&self, text: &'static str) {
        if let Some(bar) = &self.0 {
            bar.set_message(text);
        }
    }

    /// Removes the bar (the summary line follows).
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
