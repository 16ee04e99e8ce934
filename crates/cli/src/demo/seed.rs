//! Seeding the demo: the same steps on first start and on every restart, each one finding
//! what already exists before creating anything.

use std::path::Path;

use paygate_core::{AppId, ProviderKind};
use paygate_server::AppState;
use paygate_sim::{AppSpec, MerchantSpec, PlatformInfo, RunningSim, VerifyMode};
use paygate_store::{Audit, Channel, NewChannel, OperatorUpdate, Page, Scope, Store, TenantUpdate};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::{
    DEMO_APPID, DEMO_FILE, DEMO_MCH_ID, DEMO_USERNAME, Demo, DemoChannels, DemoInfo, DemoWebhook,
    OperatorCredentials, SimUrls,
};
use crate::app::StartError;
use crate::keyfile;
use crate::webhook_sink::WebhookReceiver;

/// Test fixtures (see `fixtures/wechatpay/v2/README.md`): a merchant certificate for
/// `1230000109` and its key, never valid anywhere but here.
const MERCHANT_CERT_PEM: &str =
    include_str!("../../../../fixtures/wechatpay/v2/apiclient_cert.pem");
const MERCHANT_KEY_PEM: &str = include_str!("../../../../fixtures/wechatpay/v2/apiclient_key.pem");
/// The demo merchant's APIv2 and APIv3 keys (32 characters each; the README's sim walkthrough
/// uses the same).
const V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";
const V3_KEY: &str = "pAyGaTeTeStApIv3KeY0123456789AbC";

fn fail(what: &str) -> impl FnOnce(String) -> StartError + '_ {
    move |e| StartError::Demo(format!("{what}: {e}"))
}

/// Seeds (or re-finds) the demo and writes `<data_dir>/demo.json`.
pub async fn seed(
    state: &AppState,
    sim: &RunningSim,
    data_dir: &Path,
    paygate_url: &str,
) -> Result<Demo, StartError> {
    let store = state.store();
    let audit = Audit::cli();
    let path = data_dir.join(DEMO_FILE);
    let previous = read_previous(&path)?;
    let receiver = WebhookReceiver::spawn()
        .await
        .map_err(|e| fail("starting the webhook receiver")(e.to_string()))?;

    // The tenant is the one that owns the demo appid (appids are unique platform-wide).
    let appid: AppId = DEMO_APPID
        .parse()
        .map_err(|_| fail("demo appid")("invalid".into()))?;
    let (tenant_id, app_secret) = match store.apps().find_by_appid(&appid).await? {
        Some(app) => {
            let secret = store.apps().app_secret(&app.tenant_id, &appid).await?;
            (app.tenant_id, secret)
        }
        None => {
            let tenant = store
                .tenants()
                .create(&audit, "Demo tenant", Some("demo@example.com"))
                .await?;
            let secret = SecretString::from(random_hex(16));
            store
                .apps()
                .create(&audit, &tenant.id, &appid, "Demo mini-program", &secret)
                .await?;
            (tenant.id, secret)
        }
    };

    // The simulator starts empty every time.
    sim.sim()
        .register_app(AppSpec {
            appid: DEMO_APPID.to_owned(),
            secret: app_secret.expose_secret().to_owned(),
            pages: Vec::new(),
        })
        .map_err(|e| fail("registering the app with the simulator")(e.to_string()))?;
    let handle = sim.sim().clone();
    let platform = tokio::task::spawn_blocking(move || {
        handle.register_merchant(MerchantSpec {
            mch_id: DEMO_MCH_ID.to_owned(),
            v2_key: V2_KEY.to_owned(),
            v3_key: V3_KEY.to_owned(),
            merchant_cert_pem: MERCHANT_CERT_PEM.to_owned(),
            mode: VerifyMode::PublicKey,
            appids: Vec::new(),
            signtest_probes: false,
            platform_private_key_pem: None,
        })
    })
    .await
    .map_err(|e| fail("registering the merchant")(e.to_string()))?
    .map_err(|e| fail("registering the merchant with the simulator")(e.to_string()))?;

    let v2 = ensure_channel(state, &tenant_id, ProviderKind::WechatV2, &v2_credentials()).await?;
    let v3 = ensure_channel(
        state,
        &tenant_id,
        ProviderKind::WechatV3,
        &v3_credentials(&platform),
    )
    .await?;
    let tenant = store.tenants().get(&tenant_id).await?;
    if tenant.default_channel_id.is_none() {
        let update = TenantUpdate {
            default_channel_id: Some(Some(v3.id.clone())),
            ..TenantUpdate::default()
        };
        store.tenants().update(&audit, &tenant_id, &update).await?;
    }

    let password = ensure_operator(store, previous.as_ref()).await?;
    let api_key = ensure_api_key(store, &tenant_id, previous.as_ref()).await?;
    let webhook_secret = match store
        .webhooks()
        .put_url(&audit, &tenant_id, receiver.url())
        .await?
    {
        (_, Some(created)) => created,
        (_, None) => store.webhooks().signing_secret(&tenant_id).await?,
    };

    let operator = store
        .operators()
        .find_by_username(DEMO_USERNAME)
        .await?
        .ok_or_else(|| fail("demo operator")("vanished".into()))?
        .operator;
    let (admin_token, expires_at) = paygate_server::jwt::issue_operator_token(
        &state.settings().jwt,
        &operator.id,
        operator.token_version,
        state.clock().now(),
    )
    .map_err(|e| fail("issuing the admin token")(e.to_string()))?;

    let info = DemoInfo {
        paygate_url: paygate_url.to_owned(),
        docs_url: format!("{paygate_url}/docs"),
        simulator: SimUrls {
            http: sim.base_url().to_owned(),
            https: sim.tls_base_url().to_owned(),
        },
        operator: OperatorCredentials {
            username: DEMO_USERNAME.to_owned(),
            password: password.expose_secret().to_owned(),
        },
        admin_token,
        admin_token_expires_at: paygate_core::time_fmt::to_utc_rfc3339(expires_at),
        tenant_id: tenant_id.to_string(),
        appid: DEMO_APPID.to_owned(),
        app_secret: app_secret.expose_secret().to_owned(),
        mch_id: DEMO_MCH_ID.to_owned(),
        channels: DemoChannels {
            wechat_v2: v2.id.to_string(),
            wechat_v3: v3.id.to_string(),
        },
        api_key: api_key.expose_secret().to_owned(),
        webhook: DemoWebhook {
            url: receiver.url().to_owned(),
            secret: webhook_secret.expose_secret().to_owned(),
        },
    };
    let text = serde_json::to_string_pretty(&info)
        .map_err(|e| fail("encoding demo.json")(e.to_string()))?;
    keyfile::replace_secret_file(&path, &SecretString::from(text))?;
    Ok(Demo {
        info,
        path,
        receiver,
    })
}

/// The previous run's file, if it is there and readable as one.
fn read_previous(path: &Path) -> Result<Option<DemoInfo>, StartError> {
    if !path.exists() {
        return Ok(None);
    }
    let text = keyfile::read_secret_file(path)?;
    match serde_json::from_str(text.expose_secret()) {
        Ok(info) => Ok(Some(info)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable demo.json");
            Ok(None)
        }
    }
}

fn v2_credentials() -> SecretString {
    SecretString::from(
        json!({
            "mch_id": DEMO_MCH_ID,
            "appid": DEMO_APPID,
            "api_key": V2_KEY,
            "sign_type": "MD5",
            "client_cert_pem": MERCHANT_CERT_PEM,
            "client_key_pem": MERCHANT_KEY_PEM,
        })
        .to_string(),
    )
}

fn v3_credentials(platform: &PlatformInfo) -> SecretString {
    SecretString::from(
        json!({
            "mchid": DEMO_MCH_ID,
            "merchant_private_key_pem": MERCHANT_KEY_PEM,
            "merchant_certificate_pem": MERCHANT_CERT_PEM,
            "apiv3_key": V3_KEY,
            "wechatpay_public_key_pem": platform.public_key_pem,
            "wechatpay_public_key_id": platform.public_key_id,
        })
        .to_string(),
    )
}

/// The tenant's channel of `kind` for the demo merchant, created or brought up to date with
/// `credentials` (a new version only when they changed).
async fn ensure_channel(
    state: &AppState,
    tenant: &paygate_core::TenantId,
    kind: ProviderKind,
    credentials: &SecretString,
) -> Result<Channel, StartError> {
    let store = state.store();
    let summary = state
        .registry()
        .validate_credentials(kind, credentials)
        .map_err(|e| fail("demo credentials")(e.to_string()))?;
    let existing = store
        .channels()
        .list(tenant, &Page::new(Some(200), None))
        .await?
        .data
        .into_iter()
        .find(|c| c.kind == kind && c.mch_id.as_str() == DEMO_MCH_ID);
    let Some(channel) = existing else {
        let new = NewChannel {
            kind,
            mch_id: summary.mch_id.clone(),
            name: format!("Demo {}", kind.as_str()),
            credentials: credentials.clone(),
            summary,
        };
        return Ok(store
            .channels()
            .create(&Audit::cli(), tenant, &new)
            .await?
            .channel);
    };
    let (_, current) = store
        .channels()
        .current_credentials(tenant, &channel.id)
        .await?;
    if current.expose_secret() != credentials.expose_secret() {
        store
            .channels()
            .add_credentials_version(&Audit::cli(), tenant, &channel.id, credentials, &summary)
            .await?;
    }
    Ok(channel)
}

/// The demo operator's password: the previous one if it still works, else a new one.
async fn ensure_operator(
    store: &Store,
    previous: Option<&DemoInfo>,
) -> Result<SecretString, StartError> {
    let audit = Audit::cli();
    let hash = |p: SecretString| async move {
        paygate_server::password::hash(p)
            .await
            .map(SecretString::from)
            .map_err(|e| fail("hashing the demo password")(e.to_string()))
    };
    let Some(login) = store.operators().find_by_username(DEMO_USERNAME).await? else {
        let password = crate::commands::admin::generate_password();
        let phc = hash(password.clone()).await?;
        store
            .operators()
            .create(&audit, DEMO_USERNAME, &phc, paygate_store::Role::Admin)
            .await?;
        return Ok(password);
    };
    if login.operator.disabled {
        let enable = OperatorUpdate {
            disabled: Some(false),
            ..OperatorUpdate::default()
        };
        store
            .operators()
            .update(&audit, &login.operator.id, &enable)
            .await?;
    }
    if let Some(prev) = previous {
        let old = SecretString::from(prev.operator.password.clone());
        if paygate_server::password::verify(old.clone(), login.password_hash.clone())
            .await
            .unwrap_or(false)
        {
            return Ok(old);
        }
    }
    let password = crate::commands::admin::generate_password();
    let phc = hash(password.clone()).await?;
    store
        .operators()
        .set_password_hash(&audit, &login.operator.id, &phc)
        .await?;
    Ok(password)
}

/// The previous API key if it still authenticates for this tenant, else a new one.
async fn ensure_api_key(
    store: &Store,
    tenant: &paygate_core::TenantId,
    previous: Option<&DemoInfo>,
) -> Result<SecretString, StartError> {
    if let Some(prev) = previous {
        let old = SecretString::from(prev.api_key.clone());
        if let Some(auth) = store.api_keys().authenticate(&old).await?
            && &auth.tenant.id == tenant
        {
            return Ok(old);
        }
    }
    let created = store
        .api_keys()
        .create(&Audit::cli(), tenant, "demo", &Scope::ALL)
        .await?;
    Ok(created.secret)
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}
