//! The applied DSConfig on SQL Server: PropertyConfig rows, ObjectNumbers, the document.

use super::builders::{insert_property_config, CONFIG_ROWS};
use super::exec::{self, now, Param};
use super::pool::{Client, Fail};
use super::sql;
use crate::dsconfig::Config;
use crate::store::StoreError;

/// Replaces the stored DSConfig, in one transaction. Numbering already under way keeps its
/// next number; types no longer numbered keep their counter, inactive.
pub async fn apply_config(c: &mut Client, config: &Config) -> Result<(), Fail> {
    exec::execute(c, sql::CLEAR_PROPERTY_CONFIG, Vec::new()).await?;
    exec::execute(c, sql::DEACTIVATE_NUMBERING, Vec::new()).await?;
    let rows: Vec<[Param; 6]> = config
        .types
        .iter()
        .flat_map(|(object_type, ty)| {
            ty.properties.iter().map(move |(name, p)| {
                [
                    Param::Text(object_type.clone()),
                    Param::Text(name.clone()),
                    Param::Text(p.property_type.as_str().to_owned()),
                    Param::OptText(p.list.clone()),
                    Param::OptText(p.object_type.clone()),
                    Param::OptText(p.display.clone()),
                ]
            })
        })
        .collect();
    for chunk in rows.chunks(CONFIG_ROWS) {
        let params = chunk.iter().flat_map(|r| r.iter().cloned()).collect();
        exec::execute(c, &insert_property_config(chunk.len()), params).await?;
    }
    for (object_type, ty) in &config.types {
        if let Some(n) = &ty.numbering {
            exec::execute(
                c,
                sql::UPSERT_NUMBERING,
                params![
                    object_type.as_str(),
                    n.prefix.as_str(),
                    i64::from(n.width),
                    n.start
                ],
            )
            .await?;
        }
    }
    let document =
        serde_json::to_string(config).map_err(|e| StoreError::Database(e.to_string()))?;
    exec::execute(c, sql::UPSERT_CONFIG_DOCUMENT, params![document, now()]).await?;
    Ok(())
}

pub async fn stored_config(c: &mut Client) -> Result<Option<Config>, Fail> {
    let Some(row) = exec::row(c, sql::SELECT_CONFIG_DOCUMENT, Vec::new()).await? else {
        return Ok(None);
    };
    let document: &str = exec::req(&row, 0)?;
    let config = serde_json::from_str(document)
        .map_err(|e| StoreError::Database(format!("stored DSConfig: {e}")))?;
    Ok(Some(config))
}
