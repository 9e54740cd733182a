//! azs-netprobe: parse, run, exit. Everything else lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use azs_netprobe::cli::{Cli, Command};
use clap::Parser;

/// Exit code when the tool could not run (monitoring-plugin convention: UNKNOWN).
const COULD_NOT_RUN: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { COULD_NOT_RUN } else { 0 });
        }
    };
    init_tracing(cli.verbose);
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("azs-netprobe: {e:#}");
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Some(Command::Probes) => {
            print!("{}", azs_netprobe::cli::probes_listing()?);
            Ok(0)
        }
        Some(Command::Schema) => {
            print!("{}", azs_netprobe::report::schema_json());
            Ok(0)
        }
        Some(Command::Run(args)) => Ok(azs_netprobe::app::run(args.into_config()?)?),
        Some(Command::Explain { code, lang }) => {
            print!("{}", azs_netprobe::diagnose::explain::explain(&code, lang.unwrap_or_default())?);
            Ok(0)
        }
        Some(Command::Render { report, html }) => {
            azs_netprobe::app::render(&report, &html)?;
            Ok(0)
        }
        Some(Command::Merge { reports, out, html }) => Ok(azs_netprobe::app::merge(&reports, &out, html.as_deref())?),
        None => Ok(azs_netprobe::app::run(cli.run.into_config()?)?),
    }
}

fn init_tracing(verbose: u8) {
    use std::io::IsTerminal;
    // At the default level the resolver library's own warnings (a reply with the wrong message
    // id, which the probe already handles) are noise: only its errors are shown.
    let default = match verbose {
        0 => "warn,hickory_proto=error,hickory_resolver=error,hickory_net=error",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only for a terminal: logs redirected to a file or a pipe stay plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
