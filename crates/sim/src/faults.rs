//! Injected faults: the next N calls of an endpoint (optionally of one merchant) fail in a chosen
//! way, and the next N notifications are lost, duplicated or delivered late.
//!
//! Faults are consumed when they fire, so a test states exactly how many failures a client
//! meets. A fault never changes the simulator's state by itself, except `drop_connection`,
//! which processes the request and then drops the reply: the case where the client cannot know
//! the outcome and must query.

use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A business-level busy answer: v2 `result_code=FAIL, err_code=SYSTEMERROR`; v3 HTTP 500
    /// `SYSTEM_ERROR`; mini-program `errcode -1`. Nothing is processed.
    SystemError,
    /// A bare HTTP 500 with a non-protocol body (a failing gateway). Nothing is processed.
    #[serde(rename = "http_500")]
    Http500,
    /// The answer comes `delay_ms` late (real time: it exercises client timeouts).
    Delay,
    /// The request is processed, then the connection is cut before a full reply.
    DropConnection,
    /// A v3 answer signed with a `WECHATPAY/SIGNTEST/` probe signature.
    Signtest,
    /// The next notification is never sent.
    NotificationLost,
    /// The next notification is sent twice at each attempt.
    NotificationDuplicate,
    /// The next notification is held back by `delay_ms` of simulator time, so a later one
    /// overtakes it.
    NotificationReorder,
}

impl FaultKind {
    pub fn is_notification(self) -> bool {
        matches!(
            self,
            FaultKind::NotificationLost
                | FaultKind::NotificationDuplicate
                | FaultKind::NotificationReorder
        )
    }
}

/// A fault as registered through `POST /sim/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// Only calls of this merchant (v2 `mch_id`, v3 `mchid`, or the notification's merchant).
    #[serde(default)]
    pub mch_id: Option<String>,
    /// Only calls of this path (e.g. `/pay/unifiedorder`, `/v3/pay/transactions/jsapi`,
    /// `/v3/pay/transactions/out-trade-no` matches every query by out_trade_no as a prefix).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// How many calls it affects (default 1).
    #[serde(default = "one")]
    pub count: u32,
    /// For `delay` (real milliseconds) and `notification_reorder` (simulator milliseconds).
    #[serde(default)]
    pub delay_ms: u64,
}

fn one() -> u32 {
    1
}

/// The registered faults, shared by all handlers.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Vec<FaultSpec>>>,
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) {
        if spec.count > 0 {
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(spec);
        }
    }

    pub fn list(&self) -> Vec<FaultSpec> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn clear(&self) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Consumes one request fault matching this call, oldest first.
    pub fn take_request(&self, path: &str, mch_id: Option<&str>) -> Option<FaultSpec> {
        self.take(|f| {
            !f.kind.is_notification()
                && f.kind != FaultKind::Signtest
                && f.endpoint.as_deref().is_none_or(|e| path.starts_with(e))
                && f.mch_id.as_deref().is_none_or(|m| Some(m) == mch_id)
        })
    }

    /// Consumes one `signtest` fault matching this v3 call.
    pub fn take_signtest(&self, path: &str, mch_id: &str) -> Option<FaultSpec> {
        self.take(|f| {
            f.kind == FaultKind::Signtest
                && f.endpoint.as_deref().is_none_or(|e| path.starts_with(e))
                && f.mch_id.as_deref().is_none_or(|m| m == mch_id)
        })
    }

    /// Consumes one notification fault for a notification of `mch_id`.
    pub fn take_notification(&self, mch_id: &str) -> Option<FaultSpec> {
        self.take(|f| f.kind.is_notification() && f.mch_id.as_deref().is_none_or(|m| m == mch_id))
    }

    fn take(&self, matches: impl Fn(&FaultSpec) -> bool) -> Option<FaultSpec> {
        let mut faults = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let i = faults.iter().position(matches)?;
        let spec = faults.get_mut(i)?;
        spec.count -= 1;
        let out = spec.clone();
        if spec.count == 0 {
            faults.remove(i);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind, endpoint: Option<&str>, mch: Option<&str>, count: u32) -> FaultSpec {
        FaultSpec {
            kind,
            mch_id: mch.map(str::to_owned),
            endpoint: endpoint.map(str::to_owned),
            count,
            delay_ms: 0,
        }
    }

    #[test]
    fn faults_fire_exactly_count_times_and_only_where_aimed() {
        let f = Faults::default();
        f.add(spec(
            FaultKind::SystemError,
            Some("/pay/unifiedorder"),
            Some("1"),
            2,
        ));
        assert_eq!(f.take_request("/pay/orderquery", Some("1")), None);
        assert_eq!(f.take_request("/pay/unifiedorder", Some("2")), None);
        assert!(f.take_request("/pay/unifiedorder", Some("1")).is_some());
        assert!(f.take_request("/pay/unifiedorder", Some("1")).is_some());
        assert_eq!(f.take_request("/pay/unifiedorder", Some("1")), None);
        assert!(f.list().is_empty());
    }

    #[test]
    fn notification_faults_are_separate() {
        let f = Faults::default();
        f.add(spec(FaultKind::NotificationLost, None, None, 1));
        assert_eq!(f.take_request("/pay/unifiedorder", Some("1")), None);
        assert!(f.take_notification("1").is_some());
        assert_eq!(f.take_notification("1"), None);
    }
}
