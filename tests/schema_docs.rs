#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The published JSON Schemas describe themselves: the descriptions come from the doc comments
//! of the report's types and fields, and at least 95% of the definitions and of the properties
//! have one, in the schema the binary prints (`azs-netprobe schema`) and in the diff's schema.

mod common;

use serde_json::Value;

/// The least share of definitions, and of properties, that must have a description.
const FLOOR: f64 = 0.95;

/// Definitions and properties of a schema, and how many of each have a non-empty description.
#[derive(Debug, Default)]
struct Coverage {
    definitions: usize,
    definitions_described: usize,
    properties: usize,
    properties_described: usize,
    /// `Definition` and `Definition.property` names without a description.
    missing: Vec<String>,
}

fn described(v: &Value) -> bool {
    v.get("description").and_then(Value::as_str).is_some_and(|d| !d.trim().is_empty())
}

/// Every `properties` map below `v` (not entering `$defs`), counted under `owner`.
fn walk(v: &Value, owner: &str, c: &mut Coverage) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get("properties") {
                for (name, p) in props {
                    c.properties += 1;
                    if described(p) {
                        c.properties_described += 1;
                    } else {
                        c.missing.push(format!("{owner}.{name}"));
                    }
                }
            }
            for (k, child) in map {
                if k != "$defs" {
                    walk(child, owner, c);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, owner, c)),
        _ => {}
    }
}

/// The root (the schema's own title) counts as a definition.
fn coverage(schema: &Value) -> Coverage {
    let mut c = Coverage::default();
    let root = schema["title"].as_str().unwrap_or("<root>").to_string();
    c.definitions += 1;
    if described(schema) {
        c.definitions_described += 1;
    } else {
        c.missing.push(root.clone());
    }
    walk(schema, &root, &mut c);
    let defs = schema["$defs"].as_object().expect("the schema has $defs");
    for (name, def) in defs {
        c.definitions += 1;
        if described(def) {
            c.definitions_described += 1;
        } else {
            c.missing.push(name.clone());
        }
        walk(def, name, &mut c);
    }
    c
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 { 1.0 } else { n as f64 / of as f64 }
}

fn check(name: &str, schema: &Value) {
    let c = coverage(schema);
    let (d, p) = (share(c.definitions_described, c.definitions), share(c.properties_described, c.properties));
    println!(
        "{name}: {}/{} definitions ({:.1}%), {}/{} properties ({:.1}%) described",
        c.definitions_described,
        c.definitions,
        d * 100.0,
        c.properties_described,
        c.properties,
        p * 100.0
    );
    assert!(c.definitions > 1 && c.properties > 10, "{name}: too small to be the real schema: {c:?}");
    assert!(
        d >= FLOOR && p >= FLOOR,
        "{name}: under {:.0}% described; without a description: {:?}",
        FLOOR * 100.0,
        c.missing
    );
}

fn report_schema() -> Value {
    let out = std::process::Command::new(common::BIN).arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn report_schema_describes_at_least_95_percent() {
    check("report schema (azs-netprobe schema)", &report_schema());
}

#[test]
fn diff_schema_describes_at_least_95_percent() {
    let schema: Value = serde_json::from_str(&azs_netprobe::report::diff::schema_json().unwrap()).unwrap();
    check("diff schema", &schema);
}

#[test]
fn counting_sees_a_missing_description() {
    // The counter itself: a definition and a property without descriptions are found, nested
    // properties (inside anyOf) are counted, `$defs` are not walked twice.
    let schema = serde_json::json!({
        "title": "T", "description": "root",
        "properties": {"a": {"description": "x"}, "b": {"type": "string"}},
        "$defs": {"D": {"anyOf": [{"properties": {"c": {"description": " "}}}]}, "E": {"description": "e"}}
    });
    let c = coverage(&schema);
    assert_eq!((c.definitions, c.definitions_described), (3, 2));
    assert_eq!((c.properties, c.properties_described), (3, 1));
    assert_eq!(c.missing, vec!["T.b", "D", "D.c"]);
}

/// The clock offset's sign is stated where a reader of the report looks: node minus reference,
/// and how that relates to RFC 5905's θ (server minus client).
#[test]
fn clock_offset_sign_is_in_the_schema() {
    let schema = report_schema();
    for def in ["ClockEstimate", "ClockSource"] {
        let d = schema["$defs"][def]["properties"]["offset_seconds"]["description"].as_str().unwrap();
        for needle in ["node", "minus", "positive", "ahead", "RFC 5905", "θ"] {
            assert!(d.contains(needle), "{def}.offset_seconds does not say `{needle}`: {d}");
        }
    }
}
