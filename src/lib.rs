//! datastore: an EAV object store with an HTTP API, a Rust re-implementation of the Conneo
//! Datastore with ApiOmat's data features. The contract is `API.md`; this crate is the
//! service behind it.
//!
//! # Layout
//!
//! - [`settings`]: the command line and its environment variables.
//! - [`startup`]: opens the store, installs the DSConfig, binds and serves.
//! - [`ops`]: what production needs around the API: metrics, request ids, limits, CORS,
//!   security headers, the client behind trusted proxies.
//! - [`auth`]: API keys and roles: who is calling and what they may do, decided by
//!   middleware before any handler runs; keys generated, hashed and checked.
//! - [`api`]: the HTTP layer, one file per endpoint family; parameters from JSON, form or
//!   query string ([`api::params`]).
//! - [`error`]: the one error body and the table from code to HTTP status; the HTTP side of
//!   the service's [`service::ServiceError`].
//! - [`json`]: JSON text read strictly (a repeated key is an error, at any depth).
//! - [`service`]: the datastore's rules between HTTP and storage: schema checks, conversion,
//!   what a write must check and refresh, rendering of flat objects; the active DSConfig
//!   (one stored version for every process) and the display refresh a new one needs. It
//!   answers with its own error (codes, no HTTP). [`service::tenants`] opens the database of
//!   each (app, system) on first use into a bounded registry and hands it the central
//!   DSConfig.
//! - [`tenancy`]: app names, systems, and which database each (app, system) lives in.
//! - [`convert`]: client input to stored columns and back, type by type.
//! - [`model`]: names, property types, system fields, and the comparison vocabulary (keys,
//!   orders) that the query plan and the stores share.
//! - [`dsconfig`]: TOML schema files to a validated [`dsconfig::Config`], errors with file:line.
//! - [`query`]: the query language: parser (grammar in its docs), resolution against the
//!   DSConfig, and the plan each backend renders into its own SQL.
//! - [`store`]: the [`store::Store`] trait and its backends, `sqlite` (embedded, default)
//!   and `mssql` (SQL Server); each owns its SQL and its migrations.
//! - [`transfer`]: export, import and copy-system: the JSON Lines format and the pipes
//!   between a file (or another store) and a store's one transaction.

pub mod api;
pub mod auth;
pub mod convert;
pub mod dsconfig;
pub mod error;
pub mod json;
pub mod model;
pub mod ops;
pub mod query;
pub mod service;
pub mod settings;
pub mod startup;
pub mod store;
pub mod tenancy;
pub mod transfer;
