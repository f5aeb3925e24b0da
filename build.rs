//! Tells the test suite whether a SQL Server is there to run on: `cfg(mssql_tests)` when
//! `DATASTORE_TEST_MSSQL_URL` is set, so that a run without it reports SQL Server as
//! skipped (an ignored test) instead of passing silently. The value itself is read at run
//! time, never compiled in.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mssql_tests)");
    println!("cargo::rerun-if-changed=build.rs");
    // The admin console's files are embedded (include_dir): rebuild when they change.
    println!("cargo::rerun-if-changed=assets/admin");
    println!("cargo::rerun-if-env-changed=DATASTORE_TEST_MSSQL_URL");
    if std::env::var_os("DATASTORE_TEST_MSSQL_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=mssql_tests");
    }
}
