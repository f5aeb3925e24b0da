//! Tests of the query parser: accepted syntax, errors, and the print/parse round trip.

mod errors;
mod parse;
mod roundtrip;
