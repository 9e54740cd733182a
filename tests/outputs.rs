#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Files the probe writes and reads, closed pipes, one cause per error (issue 10, items 1-5,
//! 9 and 18): every test runs the real binary against loopback only.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::command;
use serde_json::Value;

/// A probe file with one endpoint on a loopback port nothing listens on (refused: exit 2 fast).
fn refused_probe_file(dir: &Path) -> PathBuf {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    common::probe_file(
        dir,
        &format!("[[endpoint]]\nname = \"a\"\nrole = \"login\"\nurl = \"tcp://127.0.0.1:{port}\"\n"),
    )
}

/// A loopback listener whose endpoint must never be probed, and a probe file pointing at it.
struct Untouched {
    listener: TcpListener,
    probes: PathBuf,
}

impl Untouched {
    fn new(dir: &Path) -> Untouched {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let probes = common::probe_file(
            dir,
            &format!("[[endpoint]]\nname = \"a\"\nrole = \"login\"\nurl = \"tcp://127.0.0.1:{port}\"\n"),
        );
        Untouched { listener, probes }
    }

    fn assert_not_probed(&self) {
        assert_eq!(
            self.listener.accept().err().map(|e| e.kind()),
            Some(std::io::ErrorKind::WouldBlock),
            "the endpoint was probed before the outputs were refused"
        );
    }
}

/// Common flags of a quick run: no NTP wait (a refused loopback port), short timeout.
fn quick(cmd: &mut Command, probes: &Path) {
    let ntp = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    cmd.arg("--probes").arg(probes).args(["--ntp-server", &format!("127.0.0.1:{ntp}"), "--timeout", "2s"]);
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_refused(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(out));
    assert!(stderr(out).contains(needle), "`{needle}` in: {}", stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

#[cfg(unix)]
#[test]
fn symlinked_outputs_are_written_through_and_stay_links() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let probes = refused_probe_file(d);
    std::fs::create_dir(d.join("real")).unwrap();
    for (link, target) in [("out.json", "real/r.json"), ("page.html", "real/p.html"), ("m.prom", "real/m.prom")] {
        std::fs::write(d.join(target), b"old").unwrap();
        symlink(target, d.join(link)).unwrap();
    }
    // A dangling link to a file that does not exist yet is created at its target.
    std::fs::remove_file(d.join("real/m.prom")).unwrap();
    let mut cmd = command(d);
    quick(&mut cmd, &probes);
    let out = cmd.args(["--out", "out.json", "--html", "page.html", "--prometheus", "m.prom"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    for link in ["out.json", "page.html", "m.prom"] {
        assert!(std::fs::symlink_metadata(d.join(link)).unwrap().file_type().is_symlink(), "{link} is still a link");
    }
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("real/r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["exit_code"], 2);
    assert!(std::fs::read_to_string(d.join("real/p.html")).unwrap().contains("<html"));
    assert!(std::fs::read_to_string(d.join("real/m.prom")).unwrap().contains("azs_netprobe"));
    let names: Vec<_> = std::fs::read_dir(d.join("real")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn out_dev_stdout_redirected_to_a_file_fills_the_file_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let probes = refused_probe_file(dir.path());
    let file = dir.path().join("file");
    let before = std::fs::read_link("/dev/stdout").unwrap();
    for spelling in ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"] {
        let mut cmd = command(dir.path());
        quick(&mut cmd, &probes);
        let out = cmd
            .args(["--out", spelling])
            .stdout(std::fs::File::create(&file).unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_link("/dev/stdout").unwrap(), before);
        let text = std::fs::read_to_string(&file).unwrap();
        let report: Value = serde_json::from_str(&text).expect("the file holds exactly the report");
        assert_eq!(report["summary"]["exit_code"], 2);
        assert!(stderr(&out).contains(&format!("Report: {spelling}")), "summary on stderr: {}", stderr(&out));
    }
    // An output given as the same file as the redirect, by its own name, is the redirect too.
    let mut cmd = command(dir.path());
    quick(&mut cmd, &probes);
    let out = cmd.args(["--out", "file"]).stdout(std::fs::File::create(&file).unwrap()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(report["summary"]["exit_code"], 2);
}

/// The old code wrote through `.NAME.PID.tmp` with a plain create: a symlink planted there made
/// it truncate and overwrite the link's target. The probe file is a FIFO so that the link can be
/// planted once the child's PID is known, before it checks its outputs.
#[cfg(unix)]
#[test]
fn a_planted_symlink_at_the_old_temporary_name_is_not_followed() {
    use std::io::Write;
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = std::fs::read_to_string(refused_probe_file(d)).unwrap();
    let fifo = d.join("probes.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let victim = d.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let mut cmd = command(d);
    quick(&mut cmd, &fifo);
    let mut child = cmd.args(["--out", "r.json"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    symlink(&victim, d.join(format!(".r.json.{}.tmp", child.id()))).unwrap();
    std::fs::OpenOptions::new().write(true).open(&fifo).unwrap().write_all(text.as_bytes()).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "the victim is untouched");
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["exit_code"], 2);
}

#[cfg(unix)]
#[test]
fn outputs_that_are_inputs_or_each_other_are_refused_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = Untouched::new(d);
    let pem = d.join("roots.pem");
    let pem_text = rcgen_pem();
    std::fs::write(&pem, &pem_text).unwrap();
    std::fs::hard_link(&pem, d.join("hard.pem")).unwrap();
    std::os::unix::fs::symlink("x.json", d.join("x-link.json")).unwrap();
    let probes_spelled_otherwise = d.join(".").join("probes.toml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--out", probes_spelled_otherwise.to_str().unwrap()], "is the same file as --probes"),
        (vec!["--public-roots", pem.to_str().unwrap(), "--out", "hard.pem"], "same file as --public-roots"),
        (vec!["--system-roots", pem.to_str().unwrap(), "--html", "hard.pem"], "same file as --system-roots"),
        (vec!["--out", "x.json", "--html", "./x.json"], "same file as --out x.json"),
        (vec!["--out", "x.json", "--prometheus", "x-link.json"], "same file as --out x.json"),
        (vec!["--out", "sub/../x.json", "--html", "x.json"], "same file as --out sub/../x.json"),
    ];
    std::fs::create_dir(d.join("sub")).unwrap();
    let probes_before = std::fs::read(&target.probes).unwrap();
    for (args, needle) in cases {
        let out = command(d).arg("--probes").arg(&target.probes).args(&args).output().unwrap();
        assert_refused(&out, needle);
        assert!(stderr(&out).contains("refusing to overwrite"), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read(&target.probes).unwrap(), probes_before);
    assert_eq!(std::fs::read_to_string(&pem).unwrap(), pem_text);
    assert!(!d.join("x.json").exists());
    target.assert_not_probed();

    // merge and render: an output that is one of the inputs.
    let report = d.join("node.json");
    std::fs::write(&report, b"{}").unwrap();
    let merge = command(d).args(["merge", "node.json", "--out", "./node.json"]).output().unwrap();
    assert_refused(&merge, "--out ./node.json is the same file as REPORT node.json");
    let merge = command(d).args(["merge", "node.json", "--out", "f.json", "--html", "f.json"]).output().unwrap();
    assert_refused(&merge, "--html f.json is the same file as --out f.json");
    let render = command(d).args(["render", "node.json", "--html", "node.json"]).output().unwrap();
    assert_refused(&render, "--html node.json is the same file as REPORT node.json");
    assert_eq!(std::fs::read(&report).unwrap(), b"{}");
}

#[cfg(unix)]
fn rcgen_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    rcgen::CertificateParams::new(vec!["ca.test".into()]).unwrap().self_signed(&key).unwrap().pem()
}

#[test]
fn bad_output_paths_are_refused_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = Untouched::new(d);
    std::fs::create_dir(d.join("folder")).unwrap();
    for (args, needle) in [
        (vec!["--out", "r.json/"], "--out r.json/: the path ends with a separator"),
        (vec!["--out", ""], "--out: the path is empty"),
        (vec!["--out", "folder"], "--out folder: is a folder"),
        (vec!["--out", "missing/r.json"], "--out missing/r.json: the folder missing does not exist"),
        (vec!["--html", "page.html/"], "--html page.html/: the path ends with a separator"),
        (vec!["--prometheus", "folder/"], "--prometheus folder/: the path ends with a separator"),
        // `r.json/.` names a folder, though Path::components reads it as `r.json`.
        (vec!["--out", "r.json/."], "--out r.json/.: does not name a file"),
    ] {
        let out = command(d).arg("--probes").arg(&target.probes).args(&args).output().unwrap();
        assert_refused(&out, needle);
    }
    for args in [vec!["merge", "x.json", "--out", "m.json/"], vec!["render", "x.json", "--html", ""]] {
        let out = command(d).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("cannot read"), "outputs are checked before inputs are read: {}", stderr(&out));
    }
    target.assert_not_probed();
    let left: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "nothing written: {left:?}");
}

/// A folder that refuses new files (even to root): the message names the caller's path and
/// the folder, never a temporary file.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_folder_is_named_not_the_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = Untouched::new(dir.path());
    let out = command(dir.path()).arg("--probes").arg(&target.probes).args(["--out", "/sys/r.json"]).output().unwrap();
    assert_refused(&out, "cannot write --out /sys/r.json: cannot create a file in the folder /sys: ");
    assert!(!stderr(&out).contains(".tmp"), "{}", stderr(&out));
    assert_eq!(stderr(&out).matches("os error").count(), 1, "{}", stderr(&out));
    target.assert_not_probed();
}

#[cfg(target_os = "linux")]
#[test]
fn a_failing_secondary_output_keeps_the_complete_report_and_exits_3() {
    for flag in ["--html", "--prometheus"] {
        let dir = tempfile::tempdir().unwrap();
        let probes = refused_probe_file(dir.path());
        let mut cmd = command(dir.path());
        quick(&mut cmd, &probes);
        let out = cmd.args(["--out", "r.json", flag, "/dev/full"]).output().unwrap();
        assert_refused(&out, &format!("cannot write {flag} /dev/full: No space left on device"));
        let report: Value = serde_json::from_slice(&std::fs::read(dir.path().join("r.json")).unwrap()).unwrap();
        assert_eq!(report["summary"]["exit_code"], 2, "the report is complete");
        common::shape::check(&std::fs::read_to_string(dir.path().join("r.json")).unwrap());
    }
    // merge: the fleet report stays written when its page cannot be.
    let dir = tempfile::tempdir().unwrap();
    let probes = refused_probe_file(dir.path());
    let mut cmd = command(dir.path());
    quick(&mut cmd, &probes);
    assert_eq!(cmd.args(["--out", "n.json"]).output().unwrap().status.code(), Some(2));
    let out = command(dir.path()).args(["merge", "n.json", "--out", "f.json", "--html", "/dev/full"]).output().unwrap();
    assert_refused(&out, "cannot write --html /dev/full");
    let fleet: Value = serde_json::from_slice(&std::fs::read(dir.path().join("f.json")).unwrap()).unwrap();
    assert_eq!(fleet["summary"]["exit_code"], 2);
}

#[cfg(unix)]
#[test]
fn endless_input_files_are_refused_fast_naming_file_and_cap() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = Untouched::new(d);
    let probes = target.probes.to_str().unwrap();
    for (args, needle) in [
        (vec!["--probes", "/dev/zero"], "/dev/zero is larger than the 16 MiB cap for a probe file"),
        (
            vec!["--probes", probes, "--public-roots", "/dev/zero"],
            "/dev/zero is larger than the 8 MiB cap for a PEM bundle",
        ),
        (
            vec!["--probes", probes, "--system-roots", "/dev/zero"],
            "/dev/zero is larger than the 8 MiB cap for a PEM bundle",
        ),
        (vec!["merge", "/dev/zero", "--out", "m.json"], "/dev/zero is larger than the 64 MiB cap for a report"),
        (vec!["render", "/dev/zero", "--html", "p.html"], "/dev/zero is larger than the 64 MiB cap for a report"),
    ] {
        let start = Instant::now();
        let out = command(d).args(&args).output().unwrap();
        assert_refused(&out, needle);
        assert!(start.elapsed() < Duration::from_secs(10), "{args:?} took {:?}", start.elapsed());
    }
    let out = command(d).args(["--probes", probes]).env("SSL_CERT_FILE", "/dev/zero").output().unwrap();
    assert_refused(&out, "/dev/zero is larger than the 8 MiB cap for a PEM bundle");
    std::fs::write(d.join("bundle.pem"), b"").unwrap();
    let out = command(d)
        .args(["--probes", probes, "--out", "bundle.pem"])
        .env("SSL_CERT_FILE", "bundle.pem")
        .output()
        .unwrap();
    assert_refused(&out, "--out bundle.pem is the same file as SSL_CERT_FILE bundle.pem");
    target.assert_not_probed();
}

/// Run with standard output a pipe whose reading end is closed at once: every write gets EPIPE.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_the_right_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let probes = refused_probe_file(d);
    let mut node = command(d);
    quick(&mut node, &probes);
    assert_eq!(node.args(["--out", "n.json"]).output().unwrap().status.code(), Some(2));
    let runs: Vec<(Vec<&str>, i32)> = vec![
        (vec!["schema"], 0),
        (vec!["probes"], 0),
        (vec!["explain", "TlsInterception"], 0),
        (vec!["merge", "n.json", "--out", "f.json"], 2),
        (vec!["--out", "r.json"], 2),
        (vec!["--out", "-"], 2),
        (vec!["--out", "/dev/stdout"], 2),
    ];
    for (args, code) in runs {
        let mut cmd = command(d);
        if args[0].starts_with("--") {
            quick(&mut cmd, &probes);
        }
        cmd.args(&args);
        let out = with_closed_stdout(cmd);
        assert!(!stderr(&out).contains("panicked"), "{args:?}: {}", stderr(&out));
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
    }
    let report: Value = serde_json::from_slice(&std::fs::read(d.join("r.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["exit_code"], 2, "the report is written although the summary could not be");
}

#[test]
fn each_cause_is_printed_once_with_the_callers_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let target = Untouched::new(d);
    for (args, said) in [
        (vec!["--probes", "missing.toml"], "cannot read probe file missing.toml: "),
        (
            vec!["--probes", target.probes.to_str().unwrap(), "--public-roots", "missing.pem"],
            "cannot read PEM bundle missing.pem: ",
        ),
        (vec!["merge", "missing.json", "--out", "m.json"], "cannot read report missing.json: "),
        (vec!["render", "missing.json", "--html", "p.html"], "cannot read report missing.json: "),
    ] {
        let out = command(d).args(&args).output().unwrap();
        assert_refused(&out, said);
        assert_eq!(stderr(&out).matches("os error 2").count(), 1, "{args:?}: {}", stderr(&out));
    }
    target.assert_not_probed();
}

#[test]
fn invalid_utf8_in_a_probe_file_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, b"[[endpoint]]\nname = \"caf\xe9\"\n").unwrap();
    let out = command(dir.path()).arg("--probes").arg(&file).output().unwrap();
    assert_refused(&out, &format!("{}:2:12: invalid UTF-8 (byte 0xE9)", file.display()));
}

/// An output that blocks (a FIFO nobody reads) must not make the run deaf to a stop request:
/// SIGTERM then ends it with exit 3 and says where it stopped.
#[cfg(target_os = "linux")]
#[test]
fn a_stop_request_ends_a_run_whose_output_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let probes = refused_probe_file(dir.path());
    let mut cmd = command(dir.path());
    cmd.arg("run");
    quick(&mut cmd, &probes);
    let mut child =
        cmd.arg("--out").arg(&fifo).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start the binary");
    // Wait until the run is writing its outputs: the thread named `write` exists (no reader, so
    // it stays blocked opening the FIFO).
    let tasks = PathBuf::from(format!("/proc/{}/task", child.id()));
    let writing = || {
        std::fs::read_dir(&tasks)
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "write"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !writing() {
        assert!(std::time::Instant::now() < deadline, "the run never reached its outputs");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIGTERM did not end a run blocked on its output");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("stopped while the outputs were being written"), "{err}");
}
