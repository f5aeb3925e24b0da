//! Fuzz target for the query parser: no input may panic or overflow the stack, and every
//! query that parses must print as canonical text that parses back to the same tree.
//!
//! Run from the crate root (needs `cargo install cargo-fuzz` and the nightly toolchain):
//!
//!     cargo +nightly fuzz run query_parser -- -max_total_time=600
//!
//! On a machine with only a stable toolchain, `RUSTC_BOOTSTRAP=1 cargo fuzz run query_parser`
//! does the same.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = datastore::query::parse(text) else {
        return;
    };
    let printed = query.to_string();
    match datastore::query::parse(&printed) {
        Ok(again) => assert_eq!(
            again.without_spans(),
            query.without_spans(),
            "{text:?} printed as {printed:?} parses differently"
        ),
        Err(e) => panic!("{text:?} printed as {printed:?} does not parse: {e}"),
    }
});
