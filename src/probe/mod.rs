//! The probe stages (resolve → connect → TLS → HTTP) and the per-endpoint pipeline.
//! Stages record what they observed, with timings; they never decide verdicts.

pub mod budget;
pub mod connect;
pub mod families;
pub mod head;
pub mod http;
pub mod legacy;
mod observation;
pub mod order;
pub mod pmtu;
pub mod proxy;
pub mod resolve;
pub mod revocation;
pub mod tls;
pub mod tls_label;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::catalog::{EndpointSpec, Host, Target};
use crate::trust::TrustStores;

pub use observation::*;

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Where a probe reports the stage it enters, with what it observed so far.
pub trait Progress: Send + Sync {
    /// Called when the probe of `obs`'s endpoint enters `stage`; `obs` holds the stages before it.
    /// Must return quickly (it runs on the probe's task).
    fn enter(&self, obs: &EndpointObservation, stage: Stage);
}

/// Shared state of one run's probes.
pub struct Prober {
    /// The DNS resolver of the run (shared: caps the names in flight).
    pub resolver: resolve::Resolver,
    /// The proxy, from `--proxy` or the environment; None for direct connections.
    pub proxy: Option<crate::config::proxy::ProxyConfig>,
    /// The public and node trust stores the TLS stage verifies each chain against.
    pub stores: TrustStores,
    /// The timeout of each stage (DNS, each connect, TLS, HTTP), from `--timeout`.
    pub timeout: Duration,
    /// When the run began: stage starts are measured from here.
    pub epoch: Instant,
    /// The run's revocation and issuer fetches, one per URL; None with `--no-revocation`.
    pub revocation: Option<Arc<revocation::Cache>>,
}

impl Prober {
    /// Milliseconds since the run began.
    fn now_ms(&self) -> u64 {
        ms(self.epoch.elapsed())
    }

    /// Probe one endpoint through every stage it needs, telling `progress` each stage it enters
    /// and what it has observed so far (a run stopped half-way keeps that).
    pub async fn probe_with(&self, spec: Arc<EndpointSpec>, progress: &dyn Progress) -> EndpointObservation {
        let host = spec.target.host().clone();
        let port = spec.target.port();
        let mut obs = EndpointObservation::unstarted(spec.clone());
        progress.enter(&obs, Stage::Dns);
        obs.dns = match &host {
            Host::Ip(ip) => DnsObservation {
                status: DnsStatus::NotNeeded,
                server: None,
                duration_ms: 0,
                addresses: vec![*ip],
                cnames: Vec::new(),
                error: None,
                local: false,
            },
            Host::Name(name) => self.resolver.resolve(name).await,
        };
        if obs.dns.local {
            let error = obs.dns.error.clone().unwrap_or_default();
            obs.local_limit = Some(LocalLimit { stage: Stage::Dns, error });
        }
        obs.starts.dns = Some(self.now_ms().saturating_sub(obs.dns.duration_ms));
        tracing::debug!(endpoint = %spec.name, status = ?obs.dns.status, addresses = ?obs.dns.addresses, ms = obs.dns.duration_ms, "dns");
        let https = spec.target.is_https();
        // HTTPS goes through the proxy unless NO_PROXY exempts it; tcp:// targets are always direct.
        let via = match (&self.proxy, https) {
            (Some(p), true) => match p.no_proxy.matches(&host, port) {
                Some(rule) => {
                    let mut hop = proxy::ProxyHop::bypassed(p, rule);
                    hop.bypass_readings = p.no_proxy.readings(&host, port);
                    obs.proxy = Some(hop);
                    None
                }
                None => Some(p),
            },
            _ => None,
        };
        let mut other = None;
        let (attempts, chosen) = match via {
            Some(p) => {
                obs.starts.connect = Some(self.now_ms());
                progress.enter(&obs, Stage::Proxy);
                let (mut hop, attempts, tunnel) =
                    proxy::open_tunnel(&self.resolver, p, &host, port, self.timeout).await;
                hop.bypass_readings = p.no_proxy.readings(&host, port);
                tracing::debug!(endpoint = %spec.name, proxy = %hop.url, status = ?hop.status, code = ?hop.http_status, "proxy");
                let chosen = tunnel.and_then(|t| hop.address.map(|a| (a, t)));
                obs.proxy = Some(hop);
                (attempts, chosen)
            }
            None => {
                let addrs: Vec<SocketAddr> = obs.dns.addresses.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
                if addrs.is_empty() {
                    return obs;
                }
                obs.starts.connect = Some(self.now_ms());
                progress.enter(&obs, Stage::Tcp);
                let c = families::connect(&addrs, self.timeout).await;
                (obs.address_order, other) = (Some(c.order), c.other);
                (c.attempts, c.chosen)
            }
        };
        for a in &attempts {
            tracing::debug!(endpoint = %spec.name, address = %a.address, status = ?a.status, ms = a.duration_ms, "tcp");
        }
        // No connection, and the probe's own limits stood in the way: the network was not tested.
        if chosen.is_none()
            && let Some(a) = attempts.iter().find(|a| a.local)
        {
            let stage = if via.is_some() { Stage::Proxy } else { Stage::Tcp };
            obs.local_limit = Some(LocalLimit { stage, error: a.error.clone().unwrap_or_default() });
        }
        obs.tcp = attempts;
        let (Some((addr, stream)), Target::Https { path, .. }) = (chosen, &spec.target) else {
            return obs;
        };
        let other = other.map(|(a, s)| families::spawn(self.stores.clone(), a, s, &host, port, path, self.timeout));
        obs.starts.tls = Some(self.now_ms());
        progress.enter(&obs, Stage::Tls);
        let (mut tls_obs, tls_stream) =
            pmtu::handshake(&self.stores, stream, &host.bare(), self.timeout, via.is_none()).await;
        tls_obs.address = Some(addr);
        // A server that turned down TLS 1.2/1.3 may still speak an old version: ask once, on a
        // new connection (through a new tunnel when a proxy is in the path), within what is
        // left of the TLS stage's budget, and count the time in the stage.
        if tls_obs.status == TlsStatus::HandshakeFailed && tls_obs.version_refused {
            let spent = Duration::from_millis(tls_obs.duration_ms);
            let budget = self.timeout.saturating_sub(spent).max(Duration::from_millis(100));
            let start = std::time::Instant::now();
            let sni = tls_obs.sni.clone();
            let tunnel = via.filter(|_| obs.proxy.as_ref().is_some_and(|h| h.status == proxy::ProxyStatus::Ok));
            let asked = async {
                match tunnel {
                    Some(p) => {
                        let (_, _, stream) = proxy::open_tunnel(&self.resolver, p, &host, port, budget).await;
                        legacy::ask(stream?, sni.as_deref()).await
                    }
                    None => legacy::probe(addr, sni.as_deref(), budget).await,
                }
            };
            tls_obs.legacy_version = tokio::time::timeout(budget, asked).await.ok().flatten().map(str::to_string);
            tls_obs.duration_ms += ms(start.elapsed());
        }
        // Through a proxy with credentials, whatever came back may echo them.
        let scrubber = self.proxy.as_ref().and_then(crate::config::proxy::ProxyConfig::scrubber);
        if let Some(s) = &scrubber {
            s.tls(&mut tls_obs);
        }
        tracing::debug!(endpoint = %spec.name, status = ?tls_obs.status, version = ?tls_obs.version, trust = ?tls_obs.trust, ms = tls_obs.duration_ms, "tls");
        // The revocation and issuer fetches of the chain run alongside the HTTP stage.
        let revocation = revocation::check(self, tls_obs.presented.clone(), host.bare());
        obs.tls = Some(tls_obs);
        let revocation = if let Some(mut tls_stream) = tls_stream {
            obs.starts.http = Some(self.now_ms());
            progress.enter(&obs, Stage::Http);
            let authority = if port == 443 { host.to_string() } else { format!("{host}:{port}") };
            let (mut http, revocation) =
                tokio::join!(http::get(&mut tls_stream, &authority, path, self.timeout), revocation);
            if let Some(s) = &scrubber {
                s.http(&mut http);
            }
            tracing::debug!(endpoint = %spec.name, status = ?http.status, code = ?http.status_code, ms = http.duration_ms, "http");
            obs.http = Some(http);
            revocation
        } else {
            revocation.await
        };
        if let Some(t) = obs.tls.as_mut() {
            t.revocation = revocation;
        }
        families::record(&mut obs, other).await;
        obs
    }

    /// Probe every endpoint concurrently (at most `concurrency` at once), each result stored in
    /// its slot as soon as it is known, so that a run stopped half-way still has what was
    /// observed ([`Slots::take`]: in endpoint order). Dropping the future aborts the probes
    /// still running.
    pub async fn probe_all_into(self: &Arc<Self>, endpoints: &[Arc<EndpointSpec>], concurrency: usize, slots: &Slots) {
        let limit = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (i, spec) in endpoints.iter().enumerate() {
            // Endpoints start in the order of the probe set: the permit is taken before the
            // task exists (tasks on a multi-threaded runtime start in any order).
            let Ok(permit) = limit.clone().acquire_owned().await else { break };
            let (me, spec, slots) = (self.clone(), spec.clone(), slots.clone());
            set.spawn(async move {
                let _permit = permit;
                let obs = me.probe_with(spec, &SlotProgress { slots: &slots, index: i }).await;
                slots.put(i, Slot::Done(Box::new(obs)));
            });
        }
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined {
                tracing::error!("a probe task failed: {e}");
            }
        }
    }
}

/// What a slot holds: nothing yet, a probe in progress, or its result.
#[derive(Clone, Default)]
enum Slot {
    #[default]
    Empty,
    /// The observations so far, the stage being run and when it began.
    Running(Box<EndpointObservation>, Stage, Instant),
    Done(Box<EndpointObservation>),
}

/// Where concurrent probes leave their observations.
#[derive(Clone, Default)]
pub struct Slots(Arc<std::sync::Mutex<Vec<Slot>>>);

/// Progress of the probe of one slot's endpoint.
struct SlotProgress<'a> {
    slots: &'a Slots,
    index: usize,
}

impl Progress for SlotProgress<'_> {
    fn enter(&self, obs: &EndpointObservation, stage: Stage) {
        self.slots.put(self.index, Slot::Running(Box::new(obs.clone()), stage, Instant::now()));
    }
}

impl Slots {
    /// Room for `n` endpoints' observations, all empty.
    pub fn new(n: usize) -> Slots {
        Slots(Arc::new(std::sync::Mutex::new(vec![Slot::Empty; n])))
    }

    fn put(&self, i: usize, entry: Slot) {
        if let Ok(mut v) = self.0.lock()
            && let Some(slot) = v.get_mut(i)
            && !matches!(slot, Slot::Done(_))
        {
            *slot = entry;
        }
    }

    /// The observations in endpoint order. An endpoint whose probe had not finished (the run
    /// was stopped) is skipped, with what its finished stages observed and the stage in flight.
    pub fn take(&self, endpoints: &[Arc<EndpointSpec>]) -> Vec<EndpointObservation> {
        let mut v = self.0.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default();
        v.resize(endpoints.len(), Slot::Empty);
        v.into_iter()
            .zip(endpoints)
            .map(|(slot, spec)| match slot {
                Slot::Done(obs) => *obs,
                Slot::Running(obs, stage, since) => {
                    let mut obs = *obs;
                    obs.skipped = true;
                    obs.interrupted = Some(Interrupted { stage, after_ms: ms(since.elapsed()) });
                    obs
                }
                Slot::Empty => EndpointObservation::skipped(spec.clone()),
            })
            .collect()
    }
}
