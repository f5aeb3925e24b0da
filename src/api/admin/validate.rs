//! `validateConfig` (admin): checks DSConfig files sent in the request, with the same code as
//! `datastore dsconfig validate DIR` ([`crate::dsconfig::parse_files`]), and stores nothing.
//! The console's DSConfig page uses it to show each problem at its file and line.

use std::path::PathBuf;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::api::{json, State};
use crate::dsconfig::{self, ConfigErrors};
use crate::error::{ApiError, ErrorCode};

/// `validateConfig`: the DSConfig files to check, file name → TOML text.
#[derive(Serialize, ToSchema)]
#[schema(examples(json!({"files": {"10-people.toml": "[types.Person.properties]\nage = \"Integer\"\n"}})))]
pub struct ValidateConfigRequest {
    /// File name (`*.toml`, no directory) → the file's text. Files are read in name order,
    /// as `dsconfig validate` reads a directory.
    pub files: std::collections::BTreeMap<String, String>,
}

/// The verdict: `valid`, and either what the DSConfig declares or every problem.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateConfigAnswer {
    pub valid: bool,
    /// When valid: the number of object types declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub types: Option<usize>,
    /// When valid: the number of lists declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lists: Option<usize>,
    /// When valid: `open` or `strict`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_mode: Option<String>,
    /// When invalid: every problem, sorted by file and line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemAnswer>,
}

/// One problem: its file, 1-based line (0 when not about one line) and what is wrong.
#[derive(Serialize, ToSchema)]
pub struct ProblemAnswer {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Validates DSConfig files without applying them (`GET` or `POST`; admin). An invalid
/// DSConfig is a `200` with `valid: false` and its problems: the request itself succeeded.
#[utoipa::path(
    post,
    path = "/validateConfig",
    tag = "configuration",
    request_body(content((ValidateConfigRequest = "application/json"), (ValidateConfigRequest = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The verdict: `valid`, with the declared counts, or `problems`, each at its file and line.", body = ValidateConfigAnswer))
)]
pub async fn validate_config(
    req: HttpRequest,
    body: web::Payload,
    state: State,
) -> Result<HttpResponse, ApiError> {
    // No database is read, but a system header is still checked as everywhere.
    super::super::request_system(&req)?;
    let mut p = state.params(&req, body).await?;
    let files = p.map("files");
    p.finish()?;
    let files = files?.ok_or_else(|| {
        ApiError::new(ErrorCode::MissingParameter, "parameter `files` is required")
            .with_details(json!({ "parameter": "files" }))
    })?;
    let mut texts = Vec::with_capacity(files.len());
    for (name, text) in files {
        let Value::String(text) = text else {
            return Err(invalid(&name, "is not text"));
        };
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." {
            return Err(invalid(&name, "is not a file name"));
        }
        if !name.ends_with(".toml") {
            return Err(invalid(&name, "does not end in .toml"));
        }
        texts.push((PathBuf::from(name), text));
    }
    // Name order, as a directory is read.
    texts.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(json(verdict(&texts)))
}

fn invalid(name: &str, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidParameter,
        format!("`files`: `{name}` {what}"),
    )
    .with_details(json!({ "parameter": "files", "file": name }))
}

fn verdict(files: &[(PathBuf, String)]) -> ValidateConfigAnswer {
    if files.is_empty() {
        // As `dsconfig validate` of a directory without files.
        return ValidateConfigAnswer {
            valid: false,
            types: None,
            lists: None,
            schema_mode: None,
            problems: vec![ProblemAnswer {
                file: String::new(),
                line: 0,
                message: "no *.toml file in the DSConfig".to_owned(),
            }],
        };
    }
    match dsconfig::parse_files(files) {
        Ok(config) => ValidateConfigAnswer {
            valid: true,
            types: Some(config.types.len()),
            lists: Some(config.lists.len()),
            schema_mode: Some(config.schema_mode.as_str().to_owned()),
            problems: Vec::new(),
        },
        Err(ConfigErrors(problems)) => ValidateConfigAnswer {
            valid: false,
            types: None,
            lists: None,
            schema_mode: None,
            problems: problems
                .into_iter()
                .map(|p| ProblemAnswer {
                    file: p.file.to_string_lossy().into_owned(),
                    line: p.line,
                    message: p.message,
                })
                .collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_is_reported_at_its_file_and_line() {
        let files = vec![
            (
                PathBuf::from("a.toml"),
                "[types.Person.properties]\nage = \"Integer\"\n".to_owned(),
            ),
            (
                PathBuf::from("b.toml"),
                "[types.Order.properties]\n\nstatus = { type = \"List\", list = \"Nope\" }\n"
                    .to_owned(),
            ),
        ];
        let answer = verdict(&files);
        assert!(!answer.valid);
        assert_eq!(answer.problems.len(), 1);
        assert_eq!(answer.problems[0].file, "b.toml");
        assert_eq!(answer.problems[0].line, 3);
    }

    #[test]
    fn valid_files_are_counted() {
        let files = vec![(
            PathBuf::from("a.toml"),
            "[types.Person.properties]\nage = \"Integer\"\n".to_owned(),
        )];
        let answer = verdict(&files);
        assert!(answer.valid);
        assert_eq!(answer.types, Some(1));
    }
}
