#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The HTML pages as a support engineer sees them: Debian's Chromium renders them headless, the
//! screenshots are decoded and their pixels checked against the page's own palette, and every
//! request the browser makes goes to a loopback trap proxy, which must see none: the pages are
//! self-contained. (tests/html.rs checks the markup itself.)
//!
//! Chromium is installed by scripts/test.sh (Debian's `chromium`); without it these tests fail, or are skipped
//! and counted with AZS_TEST_ALLOW_MISSING=1 (tests/common `require`)
//! with a note, and under CI=true a missing Chromium is a failure.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 2000;

/// The page palette (src/report/html.rs, `:root`), light and dark.
mod common;

mod palette {
    pub type Rgb = [u8; 3];
    pub const LIGHT_BG: Rgb = [0xff, 0xff, 0xff];
    pub const LIGHT_ERROR: Rgb = [0xb4, 0x23, 0x18];
    pub const LIGHT_OK_BG: Rgb = [0xe3, 0xf3, 0xe8];
    pub const LIGHT_ERROR_BG: Rgb = [0xfd, 0xe7, 0xe5];
    pub const LIGHT_BAR: Rgb = [0x6b, 0x87, 0xb5];
    pub const DARK_BG: Rgb = [0x14, 0x17, 0x1c];
    pub const DARK_ERROR: Rgb = [0xff, 0x8a, 0x80];
    pub const DARK_BAR: Rgb = [0x7f, 0x9b, 0xd0];
}
use palette::Rgb;

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("AZS_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists()));
    // A missing Chromium fails the test (naming the install line) unless AZS_TEST_ALLOW_MISSING=1.
    if common::require("chromium", found.is_some(), common::INSTALL_CHROMIUM) { found } else { None }
}

/// A loopback HTTP proxy that answers every request with 403 and remembers its first line.
struct Trap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 1024];
                let n = stream.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                log.lock().unwrap().push(head.lines().next().unwrap_or("").to_string());
                let _ = stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Trap { addr, seen }
    }

    /// The request lines the trap saw, less Chromium's own service traffic: Debian's build asks
    /// its updater, sign-in and network-time services even with background networking off.
    /// A report page names none of these hosts.
    fn seen(&self) -> Vec<String> {
        const BROWSER_SERVICES: [&str; 3] = ["update.googleapis.com", "accounts.google.com", "clients2.google.com"];
        self.seen.lock().unwrap().iter().filter(|l| !BROWSER_SERVICES.contains(&request_host(l))).cloned().collect()
    }
}

/// The host of a proxy request line: `CONNECT host:443 HTTP/1.1` or `GET http://host/path HTTP/1.1`.
fn request_host(line: &str) -> &str {
    let target = line.split(' ').nth(1).unwrap_or("");
    let authority = target.split_once("://").map_or(target, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or("");
    authority.rsplit_once(':').map_or(authority, |(host, _)| host)
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Scheme {
    Light,
    Dark,
}

/// Renders `page` headless and returns the screenshot as RGB rows. Every request, loopback
/// included, goes to `trap`; no name is resolved.
fn screenshot(chromium: &Path, page: &Path, scheme: Scheme, trap: &Trap) -> Image {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--hide-scrollbars",
        // Containers often have a small /dev/shm.
        "--disable-dev-shm-usage",
        "--force-color-profile=srgb",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationGuideModelDownloading,Translate,MediaRouter",
    ])
    .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
    .arg(format!("--proxy-server=http://{}", trap.addr))
    .arg("--proxy-bypass-list=<-loopback>")
    .arg(format!("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {}", trap.addr.ip()))
    .arg(format!("--window-size={WIDTH},{HEIGHT}"))
    .arg(format!("--screenshot={}", shot.display()));
    if scheme == Scheme::Dark {
        // Blink's PreferredColorScheme: 0 is dark.
        cmd.arg("--blink-settings=preferredColorScheme=0");
    }
    cmd.arg(format!("file://{}", page.canonicalize().unwrap().display()));
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium took more than 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        shot.exists(),
        "chromium wrote no screenshot of {} ({}): {}",
        page.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Image::decode(&std::fs::read(&shot).unwrap())
}

struct Image {
    width: u32,
    height: u32,
    /// RGB, 8 bits per channel, row after row.
    rgb: Vec<u8>,
}

impl Image {
    fn decode(png_bytes: &[u8]) -> Image {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        let channels = info.color_type.samples();
        assert!(channels >= 3, "screenshot is {:?}", info.color_type);
        let rgb = buf.chunks_exact(channels).flat_map(|p| [p[0], p[1], p[2]]).collect();
        Image { width: info.width, height: info.height, rgb }
    }

    /// Pixels within `tol` of `c` on every channel (antialiasing and colour management move
    /// a few values).
    fn count(&self, c: Rgb, tol: u8) -> usize {
        self.rgb.chunks_exact(3).filter(|p| (0..3).all(|i| p[i].abs_diff(c[i]) <= tol)).count()
    }

    fn share(&self, c: Rgb, tol: u8) -> f64 {
        self.count(c, tol) as f64 / f64::from(self.width * self.height)
    }

    fn distinct_colours(&self) -> usize {
        let mut seen: Vec<[u8; 3]> = self.rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples")
}

/// What every page must show: the page's own background (its stylesheet applied), the error
/// colour of the verdict banner and badges, and real content (text antialiasing makes hundreds
/// of colours; a blank or unstyled page has a handful).
fn check_page(img: &Image, scheme: Scheme, what: &str) {
    assert_eq!((img.width, img.height), (WIDTH, HEIGHT), "{what}: screenshot size");
    let (bg, error) = match scheme {
        Scheme::Light => (palette::LIGHT_BG, palette::LIGHT_ERROR),
        Scheme::Dark => (palette::DARK_BG, palette::DARK_ERROR),
    };
    let bg_share = img.share(bg, 2);
    assert!(bg_share > 0.4, "{what} ({scheme:?}): {:.0}% of the page has the background colour", bg_share * 100.0);
    // The banner's 6 px error bar alone is several hundred pixels.
    assert!(img.count(error, 6) > 500, "{what} ({scheme:?}): {} error-coloured pixels", img.count(error, 6));
    assert!(img.distinct_colours() > 200, "{what} ({scheme:?}): {} colours", img.distinct_colours());
}

/// The trap catches what a page would leak: a page with one external image makes the browser
/// ask the proxy for it. Without this, "the trap saw nothing" would prove nothing.
#[test]
fn the_trap_sees_a_page_that_is_not_self_contained() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("leaky.html");
    std::fs::write(
        &page,
        "<!doctype html><html><head><title>leaky</title></head>\
         <body><img src=\"https://assets.example.invalid/logo.png\" alt=\"logo\"></body></html>",
    )
    .unwrap();
    let trap = Trap::start();
    let _ = screenshot(&chromium, &page, Scheme::Light, &trap);
    let seen = trap.seen();
    assert!(
        seen.iter().any(|l| l.contains("assets.example.invalid")),
        "the trap proxy saw no request for the external image: {seen:?}"
    );
}

/// The committed page of a node whose usage gateway is intercepted: light and dark.
#[test]
fn node_page_renders_in_chromium_in_light_and_dark() {
    let Some(chromium) = chromium() else { return };
    let page = examples_dir().join("lab-intercepted-node.html");
    let trap = Trap::start();
    let light = screenshot(&chromium, &page, Scheme::Light, &trap);
    check_page(&light, Scheme::Light, "node page");
    // The stage waterfall is drawn: its bars are an inline SVG.
    assert!(light.count(palette::LIGHT_BAR, 3) > 1000, "waterfall bars: {} px", light.count(palette::LIGHT_BAR, 3));
    let dark = screenshot(&chromium, &page, Scheme::Dark, &trap);
    check_page(&dark, Scheme::Dark, "node page");
    assert!(dark.count(palette::DARK_BAR, 3) > 1000, "dark waterfall bars: {} px", dark.count(palette::DARK_BAR, 3));
    assert!(light.share(palette::DARK_BG, 2) < 0.01, "the light page is not dark");
    assert_eq!(trap.seen(), Vec::<String>::new(), "the node page made requests");
}

/// The committed fleet page: the node × endpoint grid shows one red cell among green ones.
#[test]
fn fleet_page_renders_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let page = examples_dir().join("fleet/fleet.html");
    let trap = Trap::start();
    let img = screenshot(&chromium, &page, Scheme::Light, &trap);
    check_page(&img, Scheme::Light, "fleet page");
    // Six cells (2 endpoints × 3 nodes) of about 210 × 48 px: five healthy, one intercepted.
    // The error background also fills the portal-code pills (about as much again).
    let (ok, error) = (img.count(palette::LIGHT_OK_BG, 2), img.count(palette::LIGHT_ERROR_BG, 2));
    let cell = ok / 5;
    assert!((6000..15_000).contains(&cell), "healthy cells: {ok} px in all");
    assert!((cell..3 * cell).contains(&error), "the intercepted cell and the pills: {error} px (a cell is {cell})");
    assert_eq!(trap.seen(), Vec::<String>::new(), "the fleet page made requests");
}

/// A page rendered now by the binary (`render`) from the committed mixed-failures report.
#[test]
fn rendered_page_of_a_mixed_failure_report_renders_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("mixed.html");
    let out = Command::new(env!("CARGO_BIN_EXE_azs-netprobe"))
        .arg("render")
        .arg(examples_dir().join("lab-mixed-failures.json"))
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success(), "render: {}", String::from_utf8_lossy(&out.stderr));
    let trap = Trap::start();
    let img = screenshot(&chromium, &page, Scheme::Light, &trap);
    check_page(&img, Scheme::Light, "mixed-failures page");
    assert_eq!(trap.seen(), Vec::<String>::new(), "the rendered page made requests");
}
