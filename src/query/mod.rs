//! The query language (API.md §8, after ApiOmat's): text → [`ast::Query`].
//!
//! This module is syntax only. It does not know the schema: resolving paths against property
//! types and relationships, and rendering SQL per backend, come after it. Errors carry the
//! character offset of the fault and what was expected there, for `400 QUERY_SYNTAX`.
//!
//! # Grammar
//!
//! ```text
//! query        ::= body? tail                  -- empty or blank text selects everything
//! body         ::= location | or_expr
//!
//! location     ::= path "within" "[" number "," number "," number ","? "]" filter?
//!                | path "near"   "[" number "," number ","? "]" filter?
//! filter       ::= "filter" or_expr            -- relational operators only
//!
//! or_expr      ::= and_expr ("or" and_expr)*
//! and_expr     ::= primary ("and" primary)*
//! primary      ::= "(" or_expr ")" | comparison
//! comparison   ::= path relational value
//!                | path ("startswith" | "like") string
//!                | path "size" count
//! relational   ::= "==" | "!=" | ">" | "<" | ">=" | "<="
//!
//! value        ::= string | number | "true" | "false" | "null"
//!                | "date" "(" integer ")"      -- epoch milliseconds, an i64
//!                | "id" "(" (number | word | ident | string) ")"
//!
//! tail         ::= ("order" "by" order_item ("," order_item)*)? ("offset" count)? ("limit" count)?
//! order_item   ::= path ("asc" | "desc")?
//!
//! path         ::= ident ("." ident)*
//! ident        ::= [A-Za-z_] [A-Za-z0-9_]*
//! word         ::= [0-9] [A-Za-z0-9_]*         -- not a number: `5052cd9444ae23a741ca76b2`
//! count        ::= [0-9]+                      -- a u64
//! integer      ::= "-"? [0-9]+
//! number       ::= "-"? [0-9]+ ("." [0-9]+)? ([eE] [+-]? [0-9]+)?     -- finite as an f64
//! string       ::= '"' (char | escape)* '"'
//! escape       ::= '\"' | '\\' | '\/' | '\b' | '\f' | '\n' | '\r' | '\t'
//!                | '\u' hex hex hex hex        -- a surrogate pair as two escapes
//! ```
//!
//! Whitespace may separate any two tokens. Keywords are case-insensitive and contextual, not
//! reserved: `order`, `size` or `id` can still name a property (`id == id(5)` is valid), and
//! at the start of a query `order`/`offset`/`limit` begin the tail only when followed by `by`
//! or a number.
//!
//! # Decisions
//!
//! - Strings take JSON's escapes; any other escape is an error at its backslash. Raw
//!   control characters inside quotes are accepted as they are.
//! - `within`/`near` must be the whole condition; `a == 1 and loc near [1, 2]` and
//!   `loc near [1, 2] and a == 1` are errors. A trailing comma inside the brackets is allowed
//!   (the ApiOmat text writes `near [51.3, 12.3,]`).
//! - A location `filter` takes `and`, `or`, parentheses and the six relational operators:
//!   the contract lists `==`, `!=`, `>`, `<`, `>=`, and `<=` is accepted for symmetry;
//!   `startswith`, `like` and `size` are errors there.
//! - `id(...)` holds a number, a bare word (ApiOmat's hex ids) or a string, kept as text;
//!   the resolver decides what an id must look like.
//! - `size` takes a non-negative integer, `startswith`/`like` a string: checked here, since
//!   they hold for every property type.
//! - Tail clauses come in the order `order by`, `offset`, `limit`; `limit 5 offset 3` is an
//!   error at `offset`.
//! - At most [`MAX_QUERY_BYTES`] of input and [`MAX_NESTING`] nested parentheses, so that no
//!   input can exhaust the stack.
//!
//! # Layout
//!
//! - [`ast`]: the tree, its spans, and the canonical text its `Display` prints.
//! - `lexer`: characters → tokens with character spans.
//! - `parser`: tokens → tree, one function per rule above.
//! - `error`: [`QueryError`].
//! - [`resolve`]: a tree resolved against the DSConfig into a [`plan::QueryPlan`] (paths,
//!   types, converted literals), which each store backend renders into its own SQL.

pub mod ast;
mod error;
mod lexer;
mod parser;
pub mod plan;
pub mod resolve;
#[cfg(test)]
pub(crate) mod sample;

#[cfg(test)]
mod tests;

pub use ast::Query;
pub use error::QueryError;

/// The longest query accepted, in bytes of UTF-8.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// The deepest nesting of parentheses accepted.
pub const MAX_NESTING: usize = 64;

/// Parses a query. Empty or blank text is the query that selects everything.
pub fn parse(input: &str) -> Result<Query, QueryError> {
    if input.len() > MAX_QUERY_BYTES {
        let position = input
            .char_indices()
            .take_while(|(i, _)| *i < MAX_QUERY_BYTES)
            .count();
        let expected = format!("a query of at most {MAX_QUERY_BYTES} bytes");
        return Err(QueryError::new(position, expected, "more text"));
    }
    let chars: Vec<char> = input.chars().collect();
    parser::parse_chars(&chars)
}
