//! `[[lists.NAME]]`: a list's items, each a unique `code` and the `value` shown for it.

use std::collections::BTreeMap;

use toml::de::DeValue;

use super::{FileParser, Key, ListDecl, Value, NAME_RULE};
use crate::dsconfig::ListItem;
use crate::model::is_valid_name;

impl FileParser {
    pub(super) fn list(&mut self, key: &Key, value: &Value) -> ListDecl {
        let name = key.get_ref().to_string();
        if !is_valid_name(&name) {
            self.error(key, format!("invalid list name `{name}`: {NAME_RULE}"));
        }
        let mut decl = ListDecl {
            line: self.line(key.span()),
            items: Vec::new(),
            name,
        };
        let DeValue::Array(items) = value.get_ref() else {
            let message = format!(
                "list `{0}` must be [[lists.{0}]] items or `lists.{0} = []`, found {1}",
                decl.name,
                value.get_ref().type_str()
            );
            self.error(value, message);
            return decl;
        };
        // code -> line of its first use
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for item in items.iter() {
            let Some(table) = self.table(item, &format!("an item of list `{}`", decl.name)) else {
                continue;
            };
            let (mut code, mut text) = (None, None);
            let (mut code_seen, mut value_seen) = (false, false);
            for (field_key, value) in table.iter() {
                match field_key.get_ref().as_ref() {
                    "code" => {
                        code_seen = true;
                        code = self.code(value).map(|c| (c, self.line(value.span())));
                    }
                    "value" => {
                        value_seen = true;
                        text = self.string(value, "`value`").map(str::to_owned);
                    }
                    _ => {
                        let place = format!("in an item of list `{}`", decl.name);
                        self.unknown_key(field_key, &place, "code or value");
                    }
                }
            }
            for (seen, field) in [(code_seen, "code"), (value_seen, "value")] {
                if !seen {
                    let message = format!("an item of list `{}` has no `{field}`", decl.name);
                    self.error(item, message);
                }
            }
            let (Some((code, line)), Some(value)) = (code, text) else {
                continue;
            };
            if let Some(first) = seen.get(&code) {
                let message = format!(
                    "duplicate code `{code}` in list `{}` (first at line {first})",
                    decl.name
                );
                self.found.push((line, message));
            } else {
                seen.insert(code.clone(), line);
                decl.items.push(ListItem { code, value });
            }
        }
        decl
    }

    /// A list item's code: a non-empty string, or an integer kept as its decimal text.
    fn code(&mut self, value: &Value) -> Option<String> {
        const MAX_CODE_CHARS: usize = 300;
        match value.get_ref() {
            DeValue::String(code) if code.is_empty() => {
                self.error(value, "`code` must not be empty".to_owned());
                None
            }
            // Codes are keys of the stored list (a SQL Server key ends at 900 bytes).
            DeValue::String(code) if code.encode_utf16().count() > MAX_CODE_CHARS => {
                let message = format!("`code` is longer than {MAX_CODE_CHARS} characters");
                self.error(value, message);
                None
            }
            DeValue::String(code) => Some(code.to_string()),
            DeValue::Integer(_) => self.integer(value, "`code`").map(|n| n.to_string()),
            other => {
                let message = format!(
                    "`code` must be a string or an integer, found {}",
                    other.type_str()
                );
                self.error(value, message);
                None
            }
        }
    }
}
