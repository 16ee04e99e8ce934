//! A real loop: the WeChat simulator, paygate's router on a real port-0 listener (the notify
//! URLs given to the simulator point at it), a SQLite store in a temp dir, and the v2/v3
//! providers pointed at the simulator. Two tenants; tenant A has a v2 and a v3 channel of
//! merchant 1230000109, tenant B one v3 channel of the same merchant.

use std::net::SocketAddr;
use std::sync::Arc;

use paygate_core::{
    AppId, ChannelId, ChannelSpec, Clock, CreatePayment, ManualClock, Money, OrderState,
    OutTradeNo, Prepay, Provider, ProviderKind, ProviderRegistry, TenantId, TradeType,
};
use paygate_server::{AppState, JwtSettings, ServerSettings};
use paygate_sim::{AppSpec, PayResult, RunningSim, ScanBody, SimConfig};
use paygate_store::{
    Alert, AlertFilter, Audit, Event, MasterKey, NewChannel, NewOrder, Order, OrderDetail,
    OrderTradeType, Page, Store,
};
use secrecy::SecretString;

pub use crate::upstream::{APPID_A, APPID_B, MCH, register_merchant, v3_credentials};
use crate::upstream::{registry, v2_credentials};

pub struct Env {
    pub sim: RunningSim,
    pub store: Store,
    pub clock: ManualClock,
    pub state: AppState,
    pub registry: Arc<ProviderRegistry>,
    pub url: String,
    pub tenant_a: TenantId,
    pub tenant_b: TenantId,
    pub v2: ChannelId,
    pub v3: ChannelId,
    pub b_v3: ChannelId,
    pub openid: String,
    /// PostgreSQL: the server pool and the database to drop in [`Env::finish`].
    pg: Option<(sqlx::PgPool, String)>,
    _dir: tempfile::TempDir,
}

impl Env {
    pub async fn sqlite() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("paygate.db").display());
        Env::with_database(&url, dir).await
    }

    /// A fresh PostgreSQL database from `PAYGATE_TEST_POSTGRES_URL`; `None` (skip) when it is
    /// not set, unless `PAYGATE_REQUIRE_POSTGRES=1`.
    pub async fn postgres() -> Option<Env> {
        let required = std::env::var("PAYGATE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let Ok(base) = std::env::var("PAYGATE_TEST_POSTGRES_URL") else {
            assert!(!required, "PAYGATE_TEST_POSTGRES_URL is not set");
            return None;
        };
        let admin = match sqlx::PgPool::connect(&base).await {
            Ok(p) => p,
            Err(e) if !required => {
                eprintln!("skipping PostgreSQL: {e}");
                return None;
            }
            Err(e) => panic!("PAYGATE_REQUIRE_POSTGRES=1 and PostgreSQL is unreachable: {e}"),
        };
        let name = format!("paygate_notify_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .unwrap();
        let mut url = url::Url::parse(&base).unwrap();
        url.set_path(&name);
        let mut env = Env::with_database(url.as_str(), tempfile::tempdir().unwrap()).await;
        env.pg = Some((admin, name));
        Some(env)
    }

    /// Closes the store and drops a PostgreSQL test database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&admin)
            .await
            .unwrap();
        }
    }

    async fn with_database(db: &str, dir: tempfile::TempDir) -> Env {
        let sim = paygate_sim::Simulator::spawn(SimConfig::for_tests())
            .await
            .unwrap();
        let clock = ManualClock::new(sim.now());
        let store = Store::connect(db, MasterKey::generate(1), Arc::new(clock.clone()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.verify_master_key().await.unwrap();
        let registry = Arc::new(registry(&sim, Arc::new(clock.clone())));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let url = format!("http://{addr}");
        let mut settings = ServerSettings::new(JwtSettings::new(SecretString::from(
            "test-jwt-secret-test-jwt-secret-0123",
        )));
        settings.public_url = Some(url.parse().unwrap());
        settings.allow_insecure_public_url = true;
        settings.validate().unwrap();
        let state = AppState::new(
            store.clone(),
            registry.clone(),
            Arc::new(clock.clone()),
            settings,
        );
        let router = paygate_server::router(state.clone());
        tokio::spawn(paygate_server::serve(
            listener,
            router,
            std::future::pending(),
        ));

        for appid in [APPID_A, APPID_B] {
            sim.sim()
                .register_app(AppSpec {
                    appid: appid.to_owned(),
                    secret: "app-secret".to_owned(),
                    pages: Vec::new(),
                })
                .unwrap();
        }
        let openid = sim.sim().create_user(APPID_A, None, None).unwrap();
        sim.sim()
            .create_user(APPID_B, Some(openid.clone()), None)
            .unwrap();
        let platform = register_merchant(&sim, MCH).await;
        let v3_doc = v3_credentials(&platform);
        let v2_doc = v2_credentials();
        let audit = Audit::cli();
        let channel = async |tenant: &TenantId, kind, doc: &SecretString| {
            let summary = registry.validate_credentials(kind, doc).unwrap();
            let new = NewChannel {
                kind,
                mch_id: summary.mch_id.clone(),
                name: format!("{kind:?}"),
                credentials: doc.clone(),
                summary,
            };
            store
                .channels()
                .create(&audit, tenant, &new)
                .await
                .unwrap()
                .channel
                .id
        };
        let a = store.tenants().create(&audit, "A", None).await.unwrap().id;
        let b = store.tenants().create(&audit, "B", None).await.unwrap().id;
        let secret = SecretString::from("app-secret");
        for (t, appid) in [(&a, APPID_A), (&b, APPID_B)] {
            let appid: AppId = appid.parse().unwrap();
            store
                .apps()
                .create(&audit, t, &appid, "app", &secret)
                .await
                .unwrap();
        }
        let v2 = channel(&a, ProviderKind::WechatV2, &v2_doc).await;
        let v3 = channel(&a, ProviderKind::WechatV3, &v3_doc).await;
        let b_v3 = channel(&b, ProviderKind::WechatV3, &v3_doc).await;
        Env {
            sim,
            store,
            clock,
            state,
            registry,
            url,
            tenant_a: a,
            tenant_b: b,
            v2,
            v3,
            b_v3,
            openid,
            pg: None,
            _dir: dir,
        }
    }

    pub async fn provider(&self, tenant: &TenantId, channel: &ChannelId) -> Arc<dyn Provider> {
        let c = self
            .store
            .channels()
            .get_channel(tenant, channel)
            .await
            .unwrap();
        let (version, credentials) = self
            .store
            .channels()
            .current_credentials(tenant, channel)
            .await
            .unwrap();
        self.registry
            .provider(&ChannelSpec {
                channel_id: c.id,
                kind: c.kind,
                mch_id: c.mch_id,
                credentials_version: version,
                credentials,
            })
            .unwrap()
    }

    /// A NATIVE order of `fen` on tenant A's v3 channel, prepaid at the simulator (PENDING).
    pub async fn pending(&self, out_trade_no: &str) -> (Order, String) {
        let spec = OrderSpec::new(&self.tenant_a, &self.v3, APPID_A, out_trade_no);
        self.pending_order(spec).await
    }

    /// A NATIVE order prepaid at the simulator (PENDING); returns it and its code_url.
    pub async fn pending_order(&self, spec: OrderSpec) -> (Order, String) {
        let appid: AppId = spec.appid.parse().unwrap();
        let out_trade_no: OutTradeNo = spec.out_trade_no.parse().unwrap();
        let expires_at = self.clock.now() + time::Duration::minutes(30);
        let new = NewOrder {
            appid: appid.clone(),
            channel_id: spec.channel.clone(),
            out_trade_no: out_trade_no.clone(),
            amount: Money::from_fen(spec.fen).unwrap(),
            description: "A cup of tea".to_owned(),
            attach: None,
            trade_type: OrderTradeType::Native,
            payer_openid: None,
            client_ip: Some("203.0.113.7".to_owned()),
            expires_at: Some(expires_at),
        };
        let tenant = &spec.tenant;
        let order = self
            .store
            .orders()
            .create(&Audit::cli(), tenant, &new)
            .await
            .unwrap();
        let provider = self.provider(tenant, &spec.channel).await;
        let notify_channel = spec.notify_channel.as_ref().unwrap_or(&spec.channel);
        let prepay = provider
            .create_payment(CreatePayment {
                appid,
                out_trade_no,
                description: new.description.clone(),
                amount: Money::from_fen(spec.upstream_fen.unwrap_or(spec.fen)).unwrap(),
                attach: None,
                trade_type: TradeType::Native,
                payer_client_ip: "203.0.113.7".parse().unwrap(),
                time_expire: Some(expires_at),
                notify_url: format!("{}/notify/{notify_channel}/payment", self.url)
                    .parse()
                    .unwrap(),
            })
            .await
            .unwrap();
        let Prepay::Native {
            code_url,
            expires_at,
        } = prepay
        else {
            panic!("expected a native prepay")
        };
        let stored = paygate_store::Prepay {
            trade_type: OrderTradeType::Native,
            prepay_id: None,
            code_url: Some(code_url.clone()),
            prepay_expires_at: expires_at,
            client_ip: None,
        };
        let order = self
            .store
            .orders()
            .set_prepay(tenant, &order.id, &stored, None)
            .await
            .unwrap();
        assert_eq!(order.state, OrderState::Pending);
        (order, code_url)
    }

    /// Moves both clocks (paygate's and the simulator's) forward.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
        self.sim.advance(by);
    }

    /// The payer scans and pays; the simulator queues the notification.
    pub fn pay(&self, code_url: &str) {
        self.sim
            .sim()
            .scan(&ScanBody {
                code_url: code_url.to_owned(),
                openid: self.openid.clone(),
                result: PayResult::Success,
            })
            .unwrap();
    }

    /// Delivers every due notification (each one a real POST to this paygate).
    pub async fn deliver(&self) -> usize {
        self.sim.deliver_due_notifications().await
    }

    pub async fn order(&self, order: &Order) -> OrderDetail {
        self.store
            .orders()
            .get(&order.tenant_id, &order.id)
            .await
            .unwrap()
    }

    pub async fn events(&self, tenant: &TenantId) -> Vec<Event> {
        let page = Page::new(Some(200), None);
        self.store
            .activity()
            .events(tenant, &page)
            .await
            .unwrap()
            .data
    }

    pub async fn alerts(&self, tenant: &TenantId) -> Vec<Alert> {
        let filter = AlertFilter {
            tenant: Some(tenant.clone()),
            unresolved_only: false,
        };
        let page = Page::new(Some(200), None);
        self.store
            .activity()
            .alerts(&filter, &page)
            .await
            .unwrap()
            .data
    }

    pub async fn notifications(&self, tenant: &TenantId) -> usize {
        let page = Page::new(Some(200), None);
        self.store
            .activity()
            .notifications(tenant, &page)
            .await
            .unwrap()
            .data
            .len()
    }

    /// Asserts the last delivery attempt got a 2xx the simulator took as an acknowledgement.
    pub fn assert_acknowledged(&self) {
        let all = self.sim.notifications();
        let attempt = all.last().unwrap().attempts.last().unwrap().clone();
        assert!(
            attempt.acknowledged && attempt.status.is_some_and(|s| (200..300).contains(&s)),
            "{attempt:?}"
        );
    }

    pub async fn post(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let client = reqwest::Client::new();
        let mut req = client
            .post(format!("{}{path}", self.url))
            .body(body.to_owned());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }
}

/// What order [`Env::pending_order`] makes.
pub struct OrderSpec {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub appid: &'static str,
    pub out_trade_no: String,
    pub fen: i64,
    /// What WeChat is told the order costs (default: `fen`).
    pub upstream_fen: Option<i64>,
    /// The channel named in the notify URL (default: `channel`).
    pub notify_channel: Option<ChannelId>,
}

impl OrderSpec {
    pub fn new(
        tenant: &TenantId,
        channel: &ChannelId,
        appid: &'static str,
        out_trade_no: &str,
    ) -> OrderSpec {
        OrderSpec {
            tenant: tenant.clone(),
            channel: channel.clone(),
            appid,
            out_trade_no: out_trade_no.to_owned(),
            fen: 100,
            upstream_fen: None,
            notify_channel: None,
        }
    }
}
