//! Probe sets: which endpoints a run probes. Data in `probes/<cloud>.toml`, embedded at build
//! time, replaceable with `--probes FILE`, validated at load with errors naming file, line and column.

mod target;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use target::{Host, HostNameError, Target, TargetError, mask_userinfo, parse_host, validate_host_name};

/// What an endpoint is for; decides the portal code a failure maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Entra ID sign-in (login.microsoftonline.com and the like): any failure is LoginError.
    Login,
    /// Registration with Azure (Azure Resource Manager).
    Registration,
    /// The usage bridge's destinations (the usage gateways).
    Usage,
    /// Microsoft Graph and Azure AD Graph.
    Graph,
    /// Marketplace syndication downloads.
    Marketplace,
    /// Log collection and remote support uploads.
    Diagnostics,
    /// An endpoint of a `--probes` file or `--endpoint` that is none of the above.
    Custom,
}

impl Role {
    /// The stable label, as in the report and probe files (`login`, `registration`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Login => "login",
            Role::Registration => "registration",
            Role::Usage => "usage",
            Role::Graph => "graph",
            Role::Marketplace => "marketplace",
            Role::Diagnostics => "diagnostics",
            Role::Custom => "custom",
        }
    }
}

/// The clouds with a built-in probe set.
pub const CLOUDS: [&str; 3] = ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"];

const BUILTIN: [(&str, &str); 3] = [
    ("AzureCloud", include_str!("../../probes/AzureCloud.toml")),
    ("AzureUSGovernment", include_str!("../../probes/AzureUSGovernment.toml")),
    ("AzureChinaCloud", include_str!("../../probes/AzureChinaCloud.toml")),
];

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSpec {
    /// The endpoint's name, unique within the probe set (`entra-login`; an ad-hoc target's URL).
    pub name: String,
    /// What the endpoint is for: decides the portal code its failures map to.
    pub role: Role,
    /// Where to probe it (`https://` or `tcp://`), from the probe file's `url`.
    pub target: Target,
    /// HTTP statuses that prove the path (a 401/403/404 from the real service does).
    pub reachable: Reachable,
    /// Issuer common names the real service's chain comes from.
    pub expected_issuers: Vec<String>,
    /// A failure is an error when required, a warning otherwise.
    pub required: bool,
    /// A public endpoint resolving to a private address is a finding (Private Link, sinkhole).
    pub public: bool,
    /// The wildcard this concrete host stands for (`*.trafficmanager.net`), when only a wildcard is published.
    pub represents: Option<String>,
    /// Free text shown with the endpoint in the report: the probe file's `note`, or `added with
    /// --endpoint`.
    pub note: Option<String>,
}

/// The statuses that count as reachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachable {
    /// Any status below 500.
    AnyBelow500,
    /// Only these statuses (the probe file's `reachable`).
    Listed(Vec<u16>),
}

impl Reachable {
    /// Whether an HTTP response with status code `status` proves the path to the real service.
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            Reachable::AnyBelow500 => (100..500).contains(&status),
            Reachable::Listed(list) => list.contains(&status),
        }
    }
}

/// A loaded, validated probe set.
#[derive(Debug, Clone)]
pub struct ProbeSet {
    /// The probe set's name: the file's `name`, else the cloud or the file's stem.
    pub name: String,
    /// The probe set's `version`, `unversioned` when the file gives none.
    pub version: String,
    /// `builtin:<cloud>` or the file path.
    pub source: String,
    /// SHA-256 of the probe set's bytes, hex.
    pub sha256: String,
    /// What the probe set is for, from the file's `description`.
    pub description: Option<String>,
    /// Published wildcard destinations this set cannot probe (no concrete host is published).
    pub uncovered: Vec<String>,
    /// NTP servers to measure the clock against when --ntp-server is not given.
    pub ntp_servers: Vec<String>,
    /// The endpoints to probe, in file order (names unique), `--endpoint` ones last.
    pub endpoints: Vec<Arc<EndpointSpec>>,
}

/// Why a probe set was refused. Display names the file, line and column.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read, or is larger than the cap for a probe file.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// Invalid content at a position (TOML syntax, an unknown field, a bad value or a duplicate name).
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file's path, or `builtin:<cloud>`.
        file: String,
        /// 1-based line of the offending text.
        line: usize,
        /// 1-based column (characters) of the offending text.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// Invalid content the TOML parser gives no position for.
    #[error("{file}: {message}")]
    InvalidNoPosition {
        /// The file's path, or `builtin:<cloud>`.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// `--cloud` names no built-in probe set (the name given).
    #[error("unknown cloud `{0}` (built-in: AzureCloud, AzureUSGovernment, AzureChinaCloud)")]
    UnknownCloud(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeFile {
    name: Option<String>,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    uncovered: Vec<String>,
    #[serde(default)]
    ntp_servers: Vec<toml::Spanned<String>>,
    #[serde(default, rename = "endpoint")]
    endpoints: Vec<EndpointEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointEntry {
    name: toml::Spanned<String>,
    role: Role,
    url: Target,
    reachable: Option<toml::Spanned<Vec<u16>>>,
    #[serde(default)]
    expected_issuers: Vec<String>,
    #[serde(default = "yes")]
    required: bool,
    public: Option<bool>,
    represents: Option<String>,
    note: Option<String>,
}

fn yes() -> bool {
    true
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| before[nl + 1..].chars().count()) + 1;
    (line, column)
}

impl ProbeSet {
    /// The built-in probe set of a cloud.
    pub fn builtin(cloud: &str) -> Result<ProbeSet, CatalogError> {
        let (name, text) = BUILTIN
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(cloud))
            .ok_or_else(|| CatalogError::UnknownCloud(cloud.into()))?;
        Self::parse(text, &format!("builtin:{name}"), name)
    }

    /// A probe file from disk (`--probes FILE`).
    pub fn load(path: &Path) -> Result<ProbeSet, CatalogError> {
        let shown = path.display().to_string();
        let bytes = crate::files::read_capped(path, crate::files::InputKind::ProbeFile)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            // The position of the first byte that is not UTF-8.
            let at = e.utf8_error().valid_up_to();
            let valid = std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or_default();
            let (line, column) = line_col(valid, at);
            let byte = e.as_bytes().get(at).map_or_else(String::new, |b| format!(" (byte 0x{b:02X})"));
            CatalogError::Invalid {
                file: shown.clone(),
                line,
                column,
                message: format!("invalid UTF-8{byte}; a probe file is UTF-8 text"),
            }
        })?;
        let stem = path.file_stem().map_or_else(|| "custom".to_string(), |s| s.to_string_lossy().into_owned());
        Self::parse(&text, &shown, &stem)
    }

    /// Parse and validate a probe set; `file` names it in errors, `default_name` is used when it has none.
    pub fn parse(text: &str, file: &str, default_name: &str) -> Result<ProbeSet, CatalogError> {
        let at = |offset: usize, message: String| {
            let (line, column) = line_col(text, offset);
            CatalogError::Invalid { file: file.into(), line, column, message }
        };
        let parsed: ProbeFile = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => at(span.start, e.message().trim().to_string()),
            None => CatalogError::InvalidNoPosition { file: file.into(), message: e.message().trim().to_string() },
        })?;
        let mut ntp_servers = Vec::with_capacity(parsed.ntp_servers.len());
        for server in parsed.ntp_servers {
            let span = server.span();
            let server = server.into_inner();
            if let Err(e) = crate::clock::parse_ntp_server(&server) {
                return Err(at(span.start, format!("ntp server `{server}` is not HOST[:PORT]: {e}")));
            }
            ntp_servers.push(server);
        }
        let mut seen = HashSet::new();
        let mut endpoints = Vec::with_capacity(parsed.endpoints.len());
        for e in parsed.endpoints {
            let name_span = e.name.span();
            let name = e.name.into_inner();
            if name.trim().is_empty() {
                return Err(at(name_span.start, "endpoint name is empty".into()));
            }
            if !seen.insert(name.clone()) {
                return Err(at(name_span.start, format!("duplicate endpoint name `{name}`")));
            }
            let reachable = match e.reachable {
                None => Reachable::AnyBelow500,
                Some(list) => {
                    let span = list.span();
                    let list = list.into_inner();
                    if list.is_empty() {
                        return Err(at(
                            span.start,
                            "`reachable` is empty: no status could prove the path (leave it out for any status below 500)"
                                .into(),
                        ));
                    }
                    if let Some(bad) = list.iter().find(|s| !(100..=599).contains(*s)) {
                        return Err(at(span.start, format!("`{bad}` is not an HTTP status (100-599)")));
                    }
                    if !e.url.is_https() {
                        return Err(at(span.start, "`reachable` applies only to https:// endpoints".into()));
                    }
                    Reachable::Listed(list)
                }
            };
            endpoints.push(Arc::new(EndpointSpec {
                name,
                public: e.public.unwrap_or(e.role != Role::Custom),
                role: e.role,
                target: e.url,
                reachable,
                expected_issuers: e.expected_issuers,
                required: e.required,
                represents: e.represents,
                note: e.note,
            }));
        }
        Ok(ProbeSet {
            name: parsed.name.unwrap_or_else(|| default_name.to_string()),
            version: parsed.version.unwrap_or_else(|| "unversioned".into()),
            source: file.into(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            description: parsed.description,
            uncovered: parsed.uncovered,
            ntp_servers,
            endpoints,
        })
    }

    /// Add an ad-hoc `--endpoint` target (role custom, required, not assumed public).
    pub fn add_adhoc(&mut self, target: Target) {
        self.add_adhoc_all(std::iter::once(target));
    }

    /// Add ad-hoc `--endpoint` targets in order (see [`ProbeSet::add_adhoc`]). A target whose
    /// name is taken is named `URL#2`, `URL#3`, ...; the names in use are indexed once, so
    /// thousands of copies of one URL cost linear time.
    pub fn add_adhoc_all(&mut self, targets: impl IntoIterator<Item = Target>) {
        let mut taken: HashSet<String> = self.endpoints.iter().map(|e| e.name.clone()).collect();
        // The next suffix to try for each URL.
        let mut next: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for target in targets {
            let base = target.to_string();
            let mut name = base.clone();
            if taken.contains(&name) {
                let n = next.entry(base.clone()).or_insert(2);
                loop {
                    name = format!("{base}#{n}");
                    *n += 1;
                    if !taken.contains(&name) {
                        break;
                    }
                }
            }
            taken.insert(name.clone());
            self.endpoints.push(Arc::new(EndpointSpec {
                name,
                role: Role::Custom,
                target,
                reachable: Reachable::AnyBelow500,
                expected_issuers: Vec::new(),
                required: true,
                public: false,
                represents: None,
                note: Some("added with --endpoint".into()),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_sets_load_and_hold_the_contract_endpoints() {
        for cloud in CLOUDS {
            let set = ProbeSet::builtin(cloud).unwrap();
            assert_eq!(set.name, cloud);
            assert!(set.endpoints.iter().any(|e| e.role == Role::Login), "{cloud} has a login endpoint");
            assert!(set.endpoints.iter().any(|e| e.role == Role::Registration), "{cloud}");
            assert!(
                set.endpoints.iter().any(|e| e.role == Role::Usage) || !set.uncovered.is_empty(),
                "{cloud}: usage is probed or the gap is stated"
            );
            assert!(set.endpoints.iter().any(|e| e.role == Role::Graph), "{cloud}");
        }
        let azure = ProbeSet::builtin("AzureCloud").unwrap();
        let host = |h: &str| azure.endpoints.iter().find(|e| e.target.host().bare() == h).map(|e| e.role);
        assert_eq!(host("login.microsoftonline.com"), Some(Role::Login));
        assert_eq!(host("management.azure.com"), Some(Role::Registration));
        let usage: Vec<_> = azure.endpoints.iter().filter(|e| e.role == Role::Usage).collect();
        assert!(usage.iter().all(|e| e.represents.as_deref().is_some_and(|w| w.starts_with("*."))));
    }

    #[test]
    fn empty_file_is_a_valid_empty_set() {
        let set = ProbeSet::parse("", "empty.toml", "empty").unwrap();
        assert!(set.endpoints.is_empty());
        assert_eq!(set.name, "empty");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let text = "name = \"x\"\n\n[[endpoint]]\nname = \"a\"\nrole = \"login\"\nurl = \"ftp://a.example\"\n";
        let err = ProbeSet::parse(text, "bad.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("bad.toml:6:7: "), "{err}");
        assert!(err.contains("ftp"), "{err}");

        let text = "[[endpoint]]\nname = \"a\"\nrole = \"pilot\"\nurl = \"https://a.example\"\n";
        let err = ProbeSet::parse(text, "bad.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("bad.toml:3:8: "), "{err}");

        let dup = "[[endpoint]]\nname = \"a\"\nrole = \"usage\"\nurl = \"https://a.example\"\n\
                   [[endpoint]]\nname = \"a\"\nrole = \"usage\"\nurl = \"https://b.example\"\n";
        let err = ProbeSet::parse(dup, "dup.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("dup.toml:6:8: duplicate endpoint name"), "{err}");

        let unknown = "[[endpoint]]\nname = \"a\"\nrole = \"usage\"\nurl = \"https://a.example\"\nport = 1\n";
        let err = ProbeSet::parse(unknown, "u.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("u.toml:5:1: "), "{err}");

        let empty = "[[endpoint]]\nname = \"a\"\nrole = \"usage\"\nurl = \"https://a.example\"\nreachable = []\n";
        let err = ProbeSet::parse(empty, "r.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("r.toml:5:13: `reachable` is empty"), "{err}");

        let ntp = "ntp_servers = [\"time.windows.com\", \"a..b:123\"]\n";
        let err = ProbeSet::parse(ntp, "n.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("n.toml:1:36: ntp server `a..b:123`"), "{err}");

        let bad_host = "[[endpoint]]\nname = \"a\"\nrole = \"usage\"\nurl = \"https://a..example/\"\n";
        let err = ProbeSet::parse(bad_host, "h.toml", "x").unwrap_err().to_string();
        assert!(err.starts_with("h.toml:4:7: ") && err.contains("label 2 is empty"), "{err}");
    }

    #[test]
    fn adhoc_targets_are_custom_and_unique() {
        let mut set = ProbeSet::parse("", "e.toml", "e").unwrap();
        set.add_adhoc(Target::parse("tcp://10.1.1.1:5985").unwrap());
        set.add_adhoc(Target::parse("tcp://10.1.1.1:5985").unwrap());
        assert_eq!(set.endpoints[1].name, "tcp://10.1.1.1:5985#2");
        assert!(set.endpoints.iter().all(|e| e.role == Role::Custom && !e.public));
    }

    #[test]
    fn adhoc_copies_get_the_next_free_suffix() {
        let text = "[[endpoint]]\nname = \"tcp://10.1.1.1:1#3\"\nrole = \"usage\"\nurl = \"tcp://10.9.9.9:9\"\n";
        let mut set = ProbeSet::parse(text, "e.toml", "e").unwrap();
        let t = Target::parse("tcp://10.1.1.1:1").unwrap();
        set.add_adhoc_all(std::iter::repeat_n(t.clone(), 3));
        set.add_adhoc(t);
        let names: Vec<&str> = set.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "tcp://10.1.1.1:1#3",
                "tcp://10.1.1.1:1",
                "tcp://10.1.1.1:1#2",
                "tcp://10.1.1.1:1#4",
                "tcp://10.1.1.1:1#5"
            ]
        );
    }
}
