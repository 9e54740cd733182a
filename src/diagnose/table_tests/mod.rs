//! Table-driven tests of diagnose: for every finding code, the observation that produces it (a
//! healthy endpoint broken in one stage with the builder `Obs`), its severity, and its portal
//! code per role; then each root-cause rule. A code without a row fails
//! `every_code_has_a_table_row`. Milliseconds: `cargo test --lib diagnose`.

mod builder;
mod codes;
mod rules;
