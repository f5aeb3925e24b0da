//! The end-to-end suite: every test starts the real server on 127.0.0.1:0 with a fresh
//! database and talks HTTP to it, as a client that knows only the contract would.

mod helpers;

mod aggregate;
mod apps;
mod auth;
mod backend;
mod batch;
mod browser;
mod changes;
mod cli;
mod concurrency;
mod config;
mod console;
mod cursor;
mod displays;
mod drop;
mod events;
mod files;
mod global;
mod head;
mod input;
mod lists;
mod objects;
mod openapi;
mod ops;
mod output;
mod processes;
mod projections;
mod properties;
mod query;
mod relationships;
mod retype;
mod transfer;
mod transport;
