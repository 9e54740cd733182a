//! azs-netprobe: the engine of a probe and diagnostic agent for Azure Stack Hub.
//!
//! Data flows one way (see shared/DESIGN.md):
//! [`config::RunConfig`] → [`probe`] observations → [`trust`] / [`clock`] facts →
//! [`diagnose`] findings → [`report`].
//! The binary (`src/main.rs`) only parses arguments, calls [`app::run`] and exits.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diagnose;
pub mod files;
pub mod platform;
pub mod probe;
pub mod report;
pub mod signals;
pub mod trust;
pub mod watch;

/// The tool's name as written in reports and the User-Agent.
pub const TOOL_NAME: &str = "azs-netprobe";
/// The tool's version (from Cargo.toml).
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
