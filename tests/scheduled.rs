#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The scheduled preflight of examples/: the systemd service and timer pass `systemd-analyze
//! verify`, and the Windows Task Scheduler task is well-formed XML with the structure
//! `schtasks /create /xml` requires. Task Scheduler's XSD cannot be fetched offline, so the
//! structure is checked with an XML parser against the schema's elements as documented
//! (learn.microsoft.com, "Task Scheduler Schema"): the namespace, version, the order of a
//! trigger's children, the Actions context naming a principal, durations. Both run the
//! options a real `azs-netprobe` accepts.

mod common;

use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// The arguments of a command line split as a shell (or CommandLineToArgvW) would for these
/// simple lines: spaces separate, double quotes group.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The scheduled command line, run for real against an empty probe set... is not possible
/// offline (it probes the public cloud); its options are checked by the binary's own parser:
/// `--help` appended makes clap validate every option before printing help (exit 0), while an
/// unknown option is an error (exit 3).
fn options_accepted(args: &[String]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_azs-netprobe")).args(args).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    for opt in ["--history", "--prometheus", "--out"] {
        assert!(args.iter().any(|a| a == opt), "{opt} in {args:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    let analyze = which("systemd-analyze");
    if !common::require("systemd-analyze", analyze.is_ok(), "apt-get install systemd") {
        return;
    }
    let Ok(analyze) = analyze else { return };
    let dir = tempfile::tempdir().unwrap();
    let service = std::fs::read_to_string(examples().join("systemd/azs-netprobe.service")).unwrap();
    // The unit names /usr/local/bin/azs-netprobe; verify checks that the command exists and is
    // executable, so the copy verified names the binary just built.
    let bin = env!("CARGO_BIN_EXE_azs-netprobe");
    std::fs::write(dir.path().join("azs-netprobe.service"), service.replace("/usr/local/bin/azs-netprobe", bin))
        .unwrap();
    std::fs::copy(examples().join("systemd/azs-netprobe.timer"), dir.path().join("azs-netprobe.timer")).unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(dir.path().join("azs-netprobe.service"))
        .arg(dir.path().join("azs-netprobe.timer"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // Unknown keys are only warned about (exit 0): nothing may be said at all.
    assert!(stderr.trim().is_empty(), "{stderr}");
    // The command line: continuation lines joined, the binary's own parser accepts it.
    let exec = service.replace("\\\n", " ");
    let line = exec.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let args = split(line);
    assert_eq!(args[0], "/usr/local/bin/azs-netprobe");
    options_accepted(&args[1..]);
    assert!(service.contains("SuccessExitStatus=1 2"), "warnings and errors are findings, not a failed unit");
    let timer = std::fs::read_to_string(examples().join("systemd/azs-netprobe.timer")).unwrap();
    assert!(timer.contains("OnUnitActiveSec=15min") && timer.contains("Unit=azs-netprobe.service"));
}

#[cfg(target_os = "linux")]
fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

const NS: &str = "http://schemas.microsoft.com/windows/2004/02/mit/task";

fn children<'a, 'i>(n: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    n.children().filter(|c| c.is_element()).collect()
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    children(n)
        .into_iter()
        .find(|c| c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("<{}> has no <{name}>", n.tag_name().name()))
}

/// xs:duration of the forms the task uses (PnDTnHnMnS), in seconds.
fn duration_seconds(s: &str) -> u64 {
    let rest = s.strip_prefix('P').unwrap_or_else(|| panic!("{s} is not an xs:duration"));
    let (days, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0;
    if !days.is_empty() {
        total += days.strip_suffix('D').unwrap().parse::<u64>().unwrap() * 86400;
    }
    let mut num = String::new();
    for c in time.chars() {
        match c {
            '0'..='9' => num.push(c),
            'H' | 'M' | 'S' => {
                let n: u64 = std::mem::take(&mut num).parse().unwrap();
                total += n * match c {
                    'H' => 3600,
                    'M' => 60,
                    _ => 1,
                };
            }
            _ => panic!("{s} is not an xs:duration"),
        }
    }
    assert!(num.is_empty() && total > 0, "{s}");
    total
}

#[test]
fn windows_task_is_well_formed_with_the_structure_schtasks_requires() {
    let text = std::fs::read_to_string(examples().join("windows/azs-netprobe-preflight.xml")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let task = doc.root_element();
    assert_eq!((task.tag_name().name(), task.tag_name().namespace()), ("Task", Some(NS)));
    assert_eq!(task.attribute("version"), Some("1.2"));
    // Every element is in the task namespace.
    for n in task.descendants().filter(|n| n.is_element()) {
        assert_eq!(n.tag_name().namespace(), Some(NS), "<{}>", n.tag_name().name());
    }
    // taskType is xs:all of these (each at most once); Actions is required.
    let allowed = ["RegistrationInfo", "Triggers", "Settings", "Data", "Principals", "Actions"];
    let names: Vec<&str> = children(task).iter().map(|c| c.tag_name().name()).collect();
    for n in &names {
        assert!(allowed.contains(n), "<{n}> is not a child of <Task>");
        assert_eq!(names.iter().filter(|x| *x == n).count(), 1, "<{n}> twice");
    }
    // The trigger: triggerBaseType is a sequence (Enabled, StartBoundary, EndBoundary,
    // Repetition, ExecutionTimeLimit); the repetition interval is 1 minute to 31 days.
    let trigger = child(child(task, "Triggers"), "TimeTrigger");
    let order = ["Enabled", "StartBoundary", "EndBoundary", "Repetition", "ExecutionTimeLimit"];
    let positions: Vec<usize> =
        children(trigger).iter().map(|c| order.iter().position(|o| *o == c.tag_name().name()).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "trigger children out of the schema's order");
    let start = child(trigger, "StartBoundary").text().unwrap();
    chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S").unwrap();
    let interval = duration_seconds(child(child(trigger, "Repetition"), "Interval").text().unwrap());
    assert!((60..=31 * 86400).contains(&interval), "{interval}");
    assert_eq!(interval, 15 * 60);
    // The Actions context names a principal (the schema's keyref); the principal is SYSTEM.
    let actions = child(task, "Actions");
    let principal = child(child(task, "Principals"), "Principal");
    assert_eq!(actions.attribute("Context"), principal.attribute("id"));
    assert_eq!(child(principal, "UserId").text(), Some("S-1-5-18"));
    assert!(["LeastPrivilege", "HighestAvailable"].contains(&child(principal, "RunLevel").text().unwrap()));
    let settings = child(task, "Settings");
    assert_eq!(child(settings, "MultipleInstancesPolicy").text(), Some("IgnoreNew"));
    assert!(duration_seconds(child(settings, "ExecutionTimeLimit").text().unwrap()) < interval);
    let priority: u8 = child(settings, "Priority").text().unwrap().parse().unwrap();
    assert!(priority <= 10);
    // The action: an executable and options the binary accepts.
    let exec = child(actions, "Exec");
    let command = split(child(exec, "Command").text().unwrap());
    assert_eq!(command.len(), 1);
    assert!(command[0].ends_with("azs-netprobe.exe"));
    options_accepted(&split(child(exec, "Arguments").text().unwrap()));
}
