#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The one-way flow of shared/DESIGN.md, checked on the source: RunConfig → observations →
//! findings → report. Every `src/**/*.rs` file is parsed (syn) and every path it names that is
//! rooted in the crate (`crate::…`, `super::…`, `self::…`, in `use` trees, code, and macro
//! arguments) is resolved to the module it points into. Forbidden:
//!
//! - a stage (`probe`, `trust`, `clock`, `catalog`) naming `diagnose`, `report`, `app`, `cli` or
//!   `watch`: stages observe, they do not decide or render;
//! - `config` naming a stage, `diagnose`, `report`, `platform`, `app`, `cli` or `watch`: the
//!   configuration is what the stages are given, so it cannot depend on them;
//! - `diagnose` naming `app`, `cli` or `watch`, or anything of `report` but the data types listed
//!   in [`REPORT_DATA`]: diagnose decides over a report's endpoint too, because `render`, `merge`
//!   and `diff` work on reports read from disk where no observation exists; it never builds,
//!   writes or renders a report;
//! - `diagnose` or `report` naming anything of `probe` but the observation types listed in
//!   [`OBSERVATIONS`]: they read what the stages saw, they never probe (no `Prober`, resolver,
//!   tunnel, handshake or fetch). `report` needs those types too: it builds the report from the
//!   observations, and the report carries a few of them as they are (the proxy hop, stage
//!   starts, the MSS retry);
//! - the argument parser (`clap`) anywhere but `src/cli.rs` and `src/main.rs`: the engine does
//!   not depend on the command line.
//!
//! Adding a type to [`OBSERVATIONS`] is a decision: it must be data, no I/O.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The items of `probe` that `diagnose` and `report` may name: what the stages observed (data
/// only), and two pure functions over an observed CNAME chain that the resolver shares.
const OBSERVATIONS: &[&str] = &[
    "probe::DnsStatus",
    "probe::DnsObservation",
    "probe::TcpStatus",
    "probe::TcpAttempt",
    "probe::Peer",
    "probe::TlsStatus",
    "probe::TlsObservation",
    "probe::TrustObservation",
    "probe::HttpStatus",
    "probe::HttpObservation",
    "probe::Stage",
    "probe::Interrupted",
    "probe::StageStarts",
    "probe::EndpointObservation",
    "probe::LocalLimit",
    "probe::proxy::ProxyHop",
    "probe::proxy::ProxyStatus",
    "probe::proxy::BypassClient",
    "probe::proxy::BypassReading",
    "probe::families::Family",
    "probe::families::FamilyObservation",
    "probe::families::AddressOrder",
    "probe::order::Candidate",
    "probe::order::PolicySource",
    "probe::pmtu::MssRetry",
    "probe::pmtu::RetryStatus",
    "probe::revocation::RevocationObservation",
    "probe::revocation::CheckObservation",
    "probe::revocation::ChainRepair",
    "probe::revocation::Fetched",
    "probe::revocation::FetchFailure",
    "probe::revocation::Via",
    "probe::resolve::cname_loop",
    "probe::resolve::cname_route",
];

/// The report's data types (its serialised shape, no behaviour) that `diagnose` may read: the
/// stage outcomes of `diagnose::outcome` and the platform findings decide over them.
const REPORT_DATA: &[&str] = &[
    "report::EndpointReport",
    "report::DnsReport",
    "report::TcpReport",
    "report::TlsReport",
    "report::HttpReport",
    "report::ProxyInfo",
];

/// Names that break a rule today, each with why and what removes it. The test fails when one
/// is no longer named (delete the line) as it fails on any new one.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

const STAGES: &[&str] = &["probe", "trust", "clock", "catalog"];

/// Why `from` (a module path, e.g. `probe::tls`) may not name `to` (a resolved path, e.g.
/// `report::Report`); None when it may.
fn forbidden(from: &[String], to: &[String]) -> Option<&'static str> {
    let (Some(area), Some(target)) = (from.first(), to.first()) else { return None };
    let (area, target) = (area.as_str(), target.as_str());
    if area == target {
        return None;
    }
    if STAGES.contains(&area) && ["diagnose", "report", "app", "cli", "watch"].contains(&target) {
        return Some(
            "a stage names diagnose, report or the application (stages observe; they do not decide or render)",
        );
    }
    if area == "config"
        && (STAGES[..3].contains(&target)
            || ["diagnose", "report", "platform", "app", "cli", "watch"].contains(&target))
    {
        return Some("config names a stage, diagnose, report or the application (configuration comes first)");
    }
    if area == "diagnose" && ["app", "cli", "watch"].contains(&target) {
        return Some("diagnose names the application (the application calls diagnose, not back)");
    }
    if area == "diagnose" && target == "report" && !REPORT_DATA.contains(&to.join("::").as_str()) {
        return Some("diagnose names report beyond its data types (report reads diagnose, not back)");
    }
    if (area == "diagnose" || area == "report") && target == "probe" {
        let named = to.join("::");
        let observed = OBSERVATIONS
            .iter()
            .any(|o| named == *o || named.strip_prefix(o).is_some_and(|rest| rest.starts_with("::")));
        if !observed {
            return Some("diagnose/report names probe beyond its observation types (probe I/O)");
        }
    }
    None
}

/// A crate-rooted path found in a file, resolved.
#[derive(Debug)]
struct Named {
    from: Vec<String>,
    to: Vec<String>,
    /// As written.
    text: String,
}

struct Walker {
    /// The module of the file, then the inline modules entered.
    module: Vec<String>,
    found: Vec<Named>,
    /// How often clap is named (attributes, paths, macro arguments).
    clap: usize,
}

impl Walker {
    /// `segments` as written (`crate`, `super`, `self`, then names) resolved from `self.module`;
    /// None when the path is not rooted in the crate.
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let mut base = self.module.clone();
        let mut rest = segments;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        base.extend(rest.iter().filter(|s| s.as_str() != "self").cloned());
        Some(base)
    }

    fn record(&mut self, segments: Vec<String>) {
        if segments.first().is_some_and(|s| s == "clap") {
            self.clap += 1;
        }
        if let Some(to) = self.resolve(&segments) {
            self.found.push(Named { from: self.module.clone(), to, text: segments.join("::") });
        }
    }

    /// Crate-rooted paths in the text of a token stream (macro arguments are not parsed as code).
    fn scan_tokens(&mut self, text: &str) {
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            if ["crate", "super", "self"].contains(&words[i]) && words.get(i + 1) == Some(&"::") {
                let mut segments = vec![words[i].to_string()];
                let mut j = i + 1;
                while words.get(j) == Some(&"::")
                    && let Some(next) = words.get(j + 1)
                    && next.chars().all(|c| c.is_alphanumeric() || c == '_')
                {
                    segments.push((*next).to_string());
                    j += 2;
                }
                self.record(segments);
                i = j;
            } else {
                if words[i] == "clap" {
                    self.clap += 1;
                }
                i += 1;
            }
        }
    }
}

fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => out.push([prefix.clone(), vec![n.ident.to_string()]].concat()),
        syn::UseTree::Rename(r) => out.push([prefix.clone(), vec![r.ident.to_string()]].concat()),
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_paths(t, prefix, out)),
    }
}

impl<'ast> Visit<'ast> for Walker {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        use_paths(&u.tree, &mut Vec::new(), &mut paths);
        for p in paths {
            self.record(p);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.record(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.scan_tokens(&m.tokens.to_string());
        syn::visit::visit_macro(self, m);
    }

    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        if a.path().is_ident("arg") || a.path().is_ident("command") {
            self.clap += 1;
        }
        if let syn::Meta::List(list) = &a.meta {
            self.scan_tokens(&list.tokens.to_string());
        }
        syn::visit::visit_attribute(self, a);
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module a file under `src/` defines: `src/probe/mod.rs` → `probe`, `src/config/proxy.rs`
/// → `config::proxy`, `src/lib.rs` → the crate root.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// Every forbidden name in the files under `src`, as `file: path (why)`; how many files were
/// read; and the [`EXCEPTIONS`] that were met.
fn violations(src: &Path) -> (Vec<String>, usize, Vec<(&'static str, &'static str)>) {
    let mut excused = Vec::new();
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let module = module_of(src, file);
        // main.rs is the binary: it names the library as `azs_netprobe::`, never `crate::`.
        let binary = module == ["main"];
        let mut w = Walker { module: module.clone(), found: Vec::new(), clap: 0 };
        w.visit_file(&ast);
        let shown = file.strip_prefix(src.parent().unwrap_or(src)).unwrap_or(file).display().to_string();
        for n in &w.found {
            let Some(why) = forbidden(&n.from, &n.to) else { continue };
            let (from, to) = (n.from.join("::"), n.to.join("::"));
            match EXCEPTIONS.iter().find(|(f, t, _)| *f == from && *t == to) {
                Some((f, t, _)) => excused.push((*f, *t)),
                None => out.push(format!("{shown}: {} ({why})", n.text)),
            }
        }
        if !(binary || module == ["cli"]) && w.clap > 0 {
            out.push(format!("{shown}: clap outside src/cli.rs (the engine does not depend on the CLI parser)"));
        }
    }
    (out, files.len(), excused)
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn imports_flow_one_way() {
    let (found, files, excused) = violations(&src_dir());
    assert!(files > 50, "read {files} files: is {} the source tree?", src_dir().display());
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
    for (from, to, _) in EXCEPTIONS {
        assert!(excused.contains(&(*from, *to)), "{from} no longer names {to}: remove it from EXCEPTIONS");
    }
}

/// The checker itself finds each kind of forbidden name, in every form a path can take.
#[test]
fn the_checker_finds_forbidden_names() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod probe;\n");
    write("probe/tls.rs", "use crate::report::Report;\nfn f() { let _ = super::super::diagnose::x(); }\n");
    write("probe/mod.rs", "fn g() { tracing::info!(\"{}\", crate::diagnose::Code::DnsTimeout.as_str()); }\n");
    write("trust/mod.rs", "use crate::{catalog::Host, report::{self, html}};\n");
    write("diagnose/dns.rs", "use crate::probe::{DnsStatus, resolve::Resolver};\nuse crate::probe::proxy::*;\n");
    write("diagnose/tcp.rs", "fn h(p: &crate::probe::Prober) {}\nfn i() { crate::report::build(); }\n");
    write("report/build.rs", "use crate::probe::{EndpointObservation, proxy::open_tunnel};\n");
    write("config.rs", "use crate::probe::proxy::ProxyConfig;\n#[derive(clap::ValueEnum)]\nenum Lang { En }\n");
    write("clock/mod.rs", "mod tests { use super::super::watch::WatchArgs; }\n");
    let (found, files, _) = violations(&src);
    assert_eq!(files, 9);
    let expected = [
        "src/clock/mod.rs: super::super::watch::WatchArgs",
        "src/config.rs: crate::probe::proxy::ProxyConfig",
        "src/config.rs: clap outside src/cli.rs",
        "src/diagnose/dns.rs: crate::probe::resolve::Resolver",
        "src/diagnose/dns.rs: crate::probe::proxy",
        "src/diagnose/tcp.rs: crate::probe::Prober",
        "src/diagnose/tcp.rs: crate::report::build",
        "src/probe/mod.rs: crate::diagnose::Code::DnsTimeout",
        "src/probe/tls.rs: crate::report::Report",
        "src/probe/tls.rs: super::super::diagnose::x",
        "src/report/build.rs: crate::probe::proxy::open_tunnel",
        "src/trust/mod.rs: crate::report",
        "src/trust/mod.rs: crate::report::html",
    ];
    for e in expected {
        assert!(found.iter().any(|f| f.starts_with(e)), "not found: {e}\nfound:\n{}", found.join("\n"));
    }
    assert_eq!(found.len(), expected.len(), "found:\n{}", found.join("\n"));
    // What is allowed stays allowed: observation types, the crate's own area, other crates.
    let ok = |from: &str, to: &str| {
        let split = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
        forbidden(&split(from), &split(to))
    };
    assert_eq!(ok("diagnose", "probe::DnsStatus::Ok"), None);
    assert_eq!(ok("report::build", "probe::proxy::ProxyHop"), None);
    assert_eq!(ok("probe::tls", "trust::chain"), None);
    assert_eq!(ok("config", "catalog::Host"), None);
    assert!(ok("diagnose", "probe::DnsStatusX").is_some(), "a prefix of a name is not the name");
}
