//! What the node itself is set to use (`node.platform` in the report): proxies, time service
//! and TLS client settings, read from the registry on Windows and from the OS equivalents on
//! Linux. Readers observe; `diagnose::platform` decides.

pub mod winhttp;
