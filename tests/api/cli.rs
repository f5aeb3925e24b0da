//! The binary itself: `migrate`, `dsconfig validate|apply`, and `serve` stopping cleanly on
//! SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::helpers::{datastore_command as datastore, free_port, SAMPLE_DSCONFIG};

#[test]
fn dsconfig_validate_reports_every_problem_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "[types.Person.properties]\nage = \"Integr\"\nobjectId = \"String\"\n",
    )
    .unwrap();
    let out = datastore()
        .args(["dsconfig", "validate"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.toml:2:") && stderr.contains("a.toml:3:"),
        "{stderr}"
    );
    let out = datastore()
        .args(["dsconfig", "validate", SAMPLE_DSCONFIG])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
}

#[test]
fn migrate_and_dsconfig_apply_prepare_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db/d.db").display());
    let out = datastore()
        .args(["migrate", "--database", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema is at version 75"));
    let out = datastore()
        .args(["dsconfig", "apply", SAMPLE_DSCONFIG, "--database", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("applied"));
}

#[test]
fn serve_refuses_a_database_url_it_does_not_know() {
    let out = datastore()
        .args(["serve", "--database", "postgres://x/y"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://PATH"));
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = datastore()
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--database",
            &format!("sqlite://{}", dir.path().join("d.db").display()),
        ])
        .args(["--dsconfig", SAMPLE_DSCONFIG])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready once it logs that it listens.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("listening")),
        "the server never said it was listening"
    );
    let health = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(health.is_ok(), "the port answers");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    assert!(lines.map_while(Result::ok).any(|l| l.contains("stopped")));
}
