//! The waterfall: an endpoint's stage timings on a shared millisecond axis, as inline SVG.

use std::fmt::Write as _;

use super::fmt::{esc, fmt_ms, spaced};
use crate::diagnose::outcome::{self, TlsOutcome};
use crate::probe::proxy::ProxyStatus;
use crate::probe::{HttpStatus, Peer, Stage, TcpStatus, TlsStatus};
use crate::report::EndpointReport;

struct Bar {
    label: String,
    start: u64,
    len: u64,
    /// `ok`, `proxy`, `fail`, or `skip` (not attempted: no bar).
    kind: &'static str,
    status: String,
}

/// The bars of an endpoint's stages; `http_blamed`: a finding blames the HTTP answer ([`outcome::http_blamed`]).
fn bars(e: &EndpointReport, http_blamed: bool) -> Vec<Bar> {
    let mut out = Vec::new();
    // The stage in flight when the run was stopped: an open bar as long as it had run.
    let open = |stage: Stage, label: &str, start: u64| {
        e.interrupted.filter(|i| i.stage == stage).map(|i| Bar {
            label: label.into(),
            start,
            len: i.after_ms,
            kind: "open",
            status: "interrupted".into(),
        })
    };
    let dns_ok = outcome::dns_ok(e.dns.status);
    if let Some(bar) = open(Stage::Dns, "DNS", 0) {
        out.push(bar);
        return out;
    }
    out.push(Bar {
        label: "DNS".into(),
        start: 0,
        len: e.dns.duration_ms,
        kind: if dns_ok { "ok" } else { "fail" },
        status: spaced(e.dns.status.as_str()),
    });
    // Where each stage began: from the report's stage starts (relative to the DNS query),
    // else (older reports) placed one after another.
    let base = e.started_ms.dns;
    let at = |start: Option<u64>, fallback: u64| match (start, base) {
        (Some(s), Some(b)) => s.saturating_sub(b),
        _ => fallback,
    };
    let mut t = at(e.started_ms.connect, e.dns.duration_ms);
    // TCP attempts run concurrently (one per address); through a proxy they go to the proxy,
    // within the proxy hop's time (which also covers resolving the proxy and the CONNECT).
    let mut end = t;
    let proxied = e.proxy.as_ref().filter(|p| p.status != ProxyStatus::Bypassed);
    for a in &e.tcp {
        let ok = a.status == TcpStatus::Ok;
        let who = if a.peer == Peer::Proxy { "TCP proxy " } else { "TCP " };
        out.push(Bar {
            label: format!("{who}{}", a.address),
            start: t,
            len: a.duration_ms,
            kind: if ok { "ok" } else { "fail" },
            status: spaced(a.status.as_str()),
        });
        end = end.max(t + a.duration_ms);
    }
    if let Some(p) = proxied {
        let ok = outcome::proxy_ok(p.status);
        let status = match p.http_status {
            Some(c) => format!("{} {c}", spaced(p.status.as_str())),
            None => spaced(p.status.as_str()),
        };
        out.push(Bar {
            label: "Proxy CONNECT".into(),
            start: t,
            len: p.duration_ms,
            kind: if ok { "proxy" } else { "fail" },
            status,
        });
        end = end.max(t + p.duration_ms);
    } else if let Some(bar) = open(Stage::Tcp, "TCP", t).or_else(|| open(Stage::Proxy, "Proxy CONNECT", t)) {
        out.push(bar);
        return out;
    } else if e.tcp.is_empty() {
        out.push(Bar { label: "TCP".into(), start: t, len: 0, kind: "skip", status: "not attempted".into() });
    }
    t = at(e.started_ms.tls, end);
    if let Some(tls) = &e.tls {
        if let Some(bar) = open(Stage::Tls, "TLS", t) {
            out.push(bar);
            return out;
        } else if tls.status == TlsStatus::NotAttempted {
            out.push(Bar { label: "TLS".into(), start: t, len: 0, kind: "skip", status: "not attempted".into() });
        } else {
            let tls_outcome = outcome::tls_outcome(tls);
            let status = match tls_outcome {
                TlsOutcome::Intercepted => "ok · intercepted".into(),
                TlsOutcome::Untrusted => "ok · untrusted".into(),
                TlsOutcome::Ok => "ok".into(),
                TlsOutcome::HandshakeFailed | TlsOutcome::NotAttempted => spaced(tls.status.as_str()),
            };
            out.push(Bar {
                label: "TLS".into(),
                start: t,
                len: tls.duration_ms,
                kind: if tls_outcome.failed() { "fail" } else { "ok" },
                status,
            });
            t = at(e.started_ms.http, t + tls.duration_ms);
        }
    }
    if let Some(h) = &e.http {
        if let Some(bar) = open(Stage::Http, "HTTP", t) {
            out.push(bar);
        } else if h.status == HttpStatus::NotAttempted {
            out.push(Bar { label: "HTTP".into(), start: t, len: 0, kind: "skip", status: "not attempted".into() });
        } else {
            let status = match h.status_code {
                Some(c) if h.status == HttpStatus::Ok => c.to_string(),
                _ => spaced(h.status.as_str()),
            };
            let bad = outcome::http_failed(h) || http_blamed;
            out.push(Bar {
                label: "HTTP".into(),
                start: t,
                len: h.duration_ms,
                kind: if bad { "fail" } else { "ok" },
                status,
            });
        }
    }
    out
}

/// A "nice" axis maximum and tick step for `total` milliseconds.
fn axis(total: u64) -> (u64, u64) {
    let total = total.max(1);
    let mut step = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            let s = step * m;
            if total.div_ceil(s) <= 5 {
                return (total.div_ceil(s) * s, s);
            }
        }
        step *= 10;
    }
}

pub(super) fn waterfall(o: &mut String, e: &EndpointReport, http_blamed: bool) {
    let bars = bars(e, http_blamed);
    let total = bars.iter().map(|b| b.start + b.len).max().unwrap_or(0);
    let (max, step) = axis(total);
    const W: u64 = 900;
    const LEFT: u64 = 230;
    const RIGHT: u64 = 170;
    const ROW: u64 = 22;
    const TOP: u64 = 8;
    let plot = W - LEFT - RIGHT;
    let h = TOP + ROW * bars.len() as u64 + 24;
    let x = |ms: u64| LEFT + ms.min(max) * plot / max;
    let _ = write!(
        o,
        "<svg class=\"wf\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\
         <title>{}</title>",
        esc(&format!("Stage timings of {}", e.name)),
        esc(&match e.started_ms.dns {
            Some(dns) => format!(
                "Stage timings of {} from its DNS query, {} into the run (TCP attempts run in parallel)",
                e.name,
                fmt_ms(dns)
            ),
            None =>
                format!("Stage timings of {} (stages placed one after another; TCP attempts run in parallel)", e.name),
        })
    );
    // Grid and axis.
    let axis_y = TOP + ROW * bars.len() as u64 + 2;
    let mut tick = 0;
    while tick <= max {
        let tx = x(tick);
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{tx}\" y1=\"{TOP}\" x2=\"{tx}\" y2=\"{axis_y}\"></line>\
             <text class=\"dim\" x=\"{tx}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            axis_y + 14,
            esc(&fmt_ms(tick))
        );
        tick += step;
    }
    let _ =
        write!(o, "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\"></line>", LEFT + plot);
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + ROW * i as u64;
        let label: String = if b.label.chars().count() > 32 {
            format!("{}…", b.label.chars().take(31).collect::<String>())
        } else {
            b.label.clone()
        };
        let _ = write!(
            o,
            "<text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LEFT - 8,
            y + 15,
            esc(&label)
        );
        let x0 = x(b.start);
        let tail_x = if b.kind == "skip" {
            x0 + 4
        } else {
            let w = (x(b.start + b.len) - x0).max(3);
            let class = match b.kind {
                "fail" => "b-fail",
                "proxy" => "b-proxy",
                "open" => "b-open",
                _ => "b-ok",
            };
            let _ = write!(
                o,
                "<rect class=\"{class}\" x=\"{x0}\" y=\"{}\" width=\"{w}\" height=\"14\" rx=\"2\"><title>{}</title></rect>",
                y + 4,
                esc(&format!("{}: {} ({})", b.label, b.status, fmt_ms(b.len)))
            );
            x0 + w + 6
        };
        let (class, text) = match b.kind {
            "skip" => ("t-skip", b.status.clone()),
            "fail" => ("t-fail", format!("{} · {}", b.status, fmt_ms(b.len))),
            _ => ("dim", format!("{} · {}", b.status, fmt_ms(b.len))),
        };
        let _ = write!(o, "<text class=\"{class}\" x=\"{tail_x}\" y=\"{}\">{}</text>", y + 15, esc(&text));
    }
    o.push_str("</svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_is_round() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(2001), (2500, 500));
        assert_eq!(axis(7), (8, 2));
        assert_eq!(axis(120), (150, 50));
    }
}
