//! Which properties the objects of a type have (the columns of a CSV answer), without
//! reading the type's properties: [`sql::PROPERTY_NAMES`] walks the distinct names of the
//! store in one round trip; named columns are probed one by one with [`sql::STORED_TYPE`].

use std::collections::BTreeMap;

use super::exec;
use super::pool::{Client, Fail};
use super::sql;
use crate::model::PropertyType;

pub async fn property_names(
    c: &mut Client,
    object_type: &str,
    names: Option<&[String]>,
) -> Result<Vec<(String, PropertyType)>, Fail> {
    let mut found: BTreeMap<String, PropertyType> = BTreeMap::new();
    let parse = |ty: &str| ty.parse().unwrap_or(PropertyType::String);
    match names {
        None => {
            for row in exec::rows(c, sql::PROPERTY_NAMES, params![object_type]).await? {
                let (name, ty): (&str, &str) = (exec::req(&row, 0)?, exec::req(&row, 1)?);
                found.insert(name.to_owned(), parse(ty));
            }
        }
        Some(names) => {
            for name in names {
                let row = exec::row(c, sql::STORED_TYPE, params![name.as_str(), object_type]);
                if let Some(row) = row.await? {
                    found.insert(name.clone(), parse(exec::req(&row, 0)?));
                }
            }
        }
    }
    Ok(found.into_iter().collect())
}
