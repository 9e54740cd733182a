//! azs-netprobe: parse, run, exit. Everything else lives in the library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use azs_netprobe::cli::{Cli, Command};

/// Exit code when the tool could not run (monitoring-plugin convention: UNKNOWN).
const COULD_NOT_RUN: u8 = 3;

fn main() -> ExitCode {
    let cli = match Cli::parse_args() {
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
            // Errors may quote file contents or peer data: printable, line breaks kept.
            azs_netprobe::files::print_err(
                format!("azs-netprobe: {}\n", azs_netprobe::report::printable_lines(&one_cause_each(&e))).as_bytes(),
            );
            ExitCode::from(COULD_NOT_RUN)
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Some(Command::Probes) => {
            print_out(&azs_netprobe::cli::probes_listing()?)?;
            Ok(0)
        }
        Some(Command::Schema) => {
            print_out(&azs_netprobe::report::schema_json()?)?;
            Ok(0)
        }
        Some(Command::Run(args)) => Ok(azs_netprobe::app::run(args.into_config()?)?),
        Some(Command::Explain { code, lang }) => {
            print_out(&azs_netprobe::diagnose::explain::explain(&code, lang.unwrap_or_default())?)?;
            Ok(0)
        }
        Some(Command::Render { report, html, lang }) => {
            azs_netprobe::app::render(&report, &html, lang)?;
            Ok(0)
        }
        Some(Command::Merge { reports, out, html }) => Ok(azs_netprobe::app::merge(&reports, &out, html.as_deref())?),
        Some(Command::Diff { before, after, out, html }) => {
            Ok(azs_netprobe::app::diff(&before, &after, out.as_deref(), html.as_deref())?)
        }
        None => Ok(azs_netprobe::app::run(cli.run.into_config()?)?),
    }
}

/// Print to standard output; a closed pipe (`| head -c1`) ends the printing quietly.
fn print_out(text: &str) -> anyhow::Result<()> {
    azs_netprobe::files::print_out(text.as_bytes()).map_err(|e| anyhow::anyhow!("cannot write to standard output: {e}"))
}

/// The error message with each cause once. The engine's errors carry their cause in their own
/// message (and keep no source chain); should a source still be chained, it is added only when
/// the message does not already say it (anyhow's `{:#}` would print it twice).
fn one_cause_each(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
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
        // Fields may carry peer data (names, headers): printable, never raw controls.
        .fmt_fields(azs_netprobe::report::text::log_fields())
        .init();
}
