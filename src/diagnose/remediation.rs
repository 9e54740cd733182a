//! The remediation catalogue: data embedded in the binary, one TOML file per language.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::codes::Code;
use crate::config::Lang;

/// What to do about a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Remediation {
    pub summary: String,
    pub steps: Vec<String>,
}

type Catalogue = HashMap<String, Remediation>;

const EN: &str = include_str!("remediation/en.toml");

fn catalogue(lang: Lang) -> &'static Catalogue {
    static EN_CAT: OnceLock<Catalogue> = OnceLock::new();
    // Other languages fall back to English until their catalogues exist.
    let _ = lang;
    EN_CAT.get_or_init(|| match toml::from_str(EN) {
        Ok(c) => c,
        Err(e) => {
            // The catalogue is compiled in and checked by a unit test; this cannot happen in a release.
            tracing::error!("embedded remediation catalogue is invalid: {e}");
            HashMap::new()
        }
    })
}

/// Fill `{name}` placeholders from `vars`.
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                let key = &after[..close];
                match vars.get(key) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(key),
                }
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The remediation of a code in a language, placeholders filled.
pub fn remediation(code: Code, lang: Lang, vars: &BTreeMap<String, String>) -> Remediation {
    match catalogue(lang).get(code.as_str()) {
        Some(r) => {
            Remediation { summary: fill(&r.summary, vars), steps: r.steps.iter().map(|s| fill(s, vars)).collect() }
        }
        None => Remediation { summary: code.as_str().to_string(), steps: Vec::new() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_an_english_entry_with_steps() {
        let cat: Catalogue = toml::from_str(EN).unwrap();
        for code in Code::ALL {
            let r = cat.get(code.as_str()).unwrap_or_else(|| panic!("no remediation for {}", code.as_str()));
            assert!(!r.summary.is_empty() && !r.steps.is_empty(), "{}", code.as_str());
        }
        assert_eq!(cat.len(), Code::ALL.len(), "no entry for an unknown code");
    }

    #[test]
    fn fills_placeholders() {
        let vars = BTreeMap::from([("host".to_string(), "a.example".to_string())]);
        assert_eq!(fill("{host} at {port} {", &vars), "a.example at port {");
    }
}
