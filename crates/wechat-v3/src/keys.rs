//! The key store: which WeChat key verifies a given `Wechatpay-Serial`, and when to refresh the
//! platform certificates.
//!
//! Selection is the rule of every official SDK: a serial equal to the configured public-key id
//! (`PUB_KEY_ID_…`) selects the WeChat Pay public key; anything else is looked up among the
//! platform certificates, of which **all** unexpired ones are kept (old and new serials are both
//! in use around a rotation). The refresh policy is pure bookkeeping on the core `Clock`:
//! periodic (`refresh_interval`, and earlier when the newest certificate is about to expire), and
//! once on an unknown serial, no more often than `unknown_serial_cooldown` — refreshing on every
//! miss is the infinite loop some SDKs shipped. Only certificate mode ever refreshes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use time::{Duration, OffsetDateTime};

use crate::cert::CertificateInfo;
use crate::verify::RsaVerifier;

#[derive(Debug)]
struct CertEntry {
    verifier: Arc<RsaVerifier>,
    info: CertificateInfo,
}

#[derive(Debug, Default)]
struct RefreshState {
    last_refresh: Option<OffsetDateTime>,
    last_unknown_serial_refresh: Option<OffsetDateTime>,
    /// After a failed download, no periodic retry before this.
    retry_after: Option<OffsetDateTime>,
}

/// The verification keys of one merchant.
#[derive(Debug)]
pub struct KeyStore {
    public_key: Option<(String, Arc<RsaVerifier>)>,
    certificate_mode: AtomicBool,
    certs: RwLock<HashMap<String, CertEntry>>,
    state: Mutex<RefreshState>,
    refresh_interval: Duration,
    unknown_serial_cooldown: Duration,
}

impl KeyStore {
    /// A store holding `certificates` (certificate mode when non-empty) and/or the public key.
    /// `now` counts as the last refresh: the certificates given are fresh.
    pub fn new(
        public_key: Option<(String, RsaVerifier)>,
        certificates: Vec<(CertificateInfo, RsaVerifier)>,
        refresh_interval: std::time::Duration,
        unknown_serial_cooldown: std::time::Duration,
        now: OffsetDateTime,
    ) -> Self {
        let store = KeyStore {
            public_key: public_key.map(|(id, v)| (id, Arc::new(v))),
            certificate_mode: AtomicBool::new(!certificates.is_empty()),
            certs: RwLock::new(HashMap::new()),
            state: Mutex::new(RefreshState {
                last_refresh: Some(now),
                ..RefreshState::default()
            }),
            refresh_interval: to_time(refresh_interval),
            unknown_serial_cooldown: to_time(unknown_serial_cooldown),
        };
        store.install(certificates, now);
        store
    }

    /// Whether platform certificates are in use (and so may be refreshed): some were configured
    /// or downloaded.
    pub fn certificate_mode(&self) -> bool {
        self.certificate_mode.load(Ordering::Relaxed)
    }

    /// The key for `serial`, if known and (for a certificate) not expired at `now`.
    pub fn select(&self, serial: &str, now: OffsetDateTime) -> Option<Arc<RsaVerifier>> {
        if let Some((id, key)) = &self.public_key
            && id == serial
        {
            return Some(key.clone());
        }
        let certs = self.certs.read().unwrap_or_else(PoisonError::into_inner);
        certs
            .get(serial)
            .filter(|e| e.info.not_after > now)
            .map(|e| e.verifier.clone())
    }

    /// The unexpired platform certificates, newest expiry first.
    pub fn certificates(&self, now: OffsetDateTime) -> Vec<CertificateInfo> {
        let certs = self.certs.read().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = certs
            .values()
            .filter(|e| e.info.not_after > now)
            .map(|e| e.info.clone())
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.not_after));
        all
    }

    /// Adds (or replaces, by serial) certificates and drops the expired ones.
    pub fn install(&self, certificates: Vec<(CertificateInfo, RsaVerifier)>, now: OffsetDateTime) {
        if !certificates.is_empty() {
            self.certificate_mode.store(true, Ordering::Relaxed);
        }
        let mut certs = self.certs.write().unwrap_or_else(PoisonError::into_inner);
        for (info, verifier) in certificates {
            certs.insert(
                info.serial.clone(),
                CertEntry {
                    verifier: Arc::new(verifier),
                    info,
                },
            );
        }
        certs.retain(|_, e| e.info.not_after > now);
    }

    /// Records a completed download.
    pub fn mark_refreshed(&self, now: OffsetDateTime) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.last_refresh = Some(now);
        state.retry_after = None;
    }

    /// Records a failed download: periodic attempts pause for one cooldown, so an unreachable
    /// WeChat does not cost a download attempt per verification.
    pub fn mark_refresh_failed(&self, now: OffsetDateTime) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retry_after = Some(now + self.unknown_serial_cooldown);
    }

    pub fn last_refresh(&self) -> Option<OffsetDateTime> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_refresh
    }

    /// Whether a periodic refresh is due: the interval has passed since the last one, or the
    /// newest certificate expires within one interval (then at most once per cooldown).
    pub fn refresh_due(&self, now: OffsetDateTime) -> bool {
        if !self.certificate_mode() {
            return false;
        }
        let since = {
            let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.retry_after.is_some_and(|t| now < t) {
                return false;
            }
            state.last_refresh.map_or(Duration::MAX, |t| now - t)
        };
        if since >= self.refresh_interval {
            return true;
        }
        let newest = self.certificates(now).first().map(|c| c.not_after);
        let expiring = newest.is_none_or(|t| t - now < self.refresh_interval);
        expiring && since >= self.unknown_serial_cooldown
    }

    /// Claims the one refresh an unknown serial may trigger. Returns `false` (and changes
    /// nothing) outside certificate mode or within the cooldown of the previous claim.
    pub fn claim_unknown_serial_refresh(&self, now: OffsetDateTime) -> bool {
        if !self.certificate_mode() {
            return false;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let allowed = state
            .last_unknown_serial_refresh
            .is_none_or(|t| now - t >= self.unknown_serial_cooldown);
        if allowed {
            state.last_unknown_serial_refresh = Some(now);
        }
        allowed
    }
}

fn to_time(d: std::time::Duration) -> Duration {
    Duration::try_from(d).unwrap_or(Duration::MAX)
}
