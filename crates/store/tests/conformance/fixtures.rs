//! Builders for the rows most cases need.

use paygate_core::{
    AppId, ChannelId, CredentialsSummary, MchId, Money, OpenId, OrderId, OutTradeNo, ProviderKind,
    TenantId,
};
use paygate_store::{NewChannel, NewNotification, NewOrder, NotificationKind, OrderTradeType};
use secrecy::SecretString;

use crate::harness::Ctx;

pub const APP_SECRET: &str = "app-secret-0123456789abcdef";
pub const CREDENTIALS: &str = r#"{"mch_id":"1230000109","api_key":"v2-api-key-SECRET-material"}"#;

pub fn mch() -> MchId {
    "1230000109".parse().expect("mch id")
}

pub fn summary(serial: &str) -> CredentialsSummary {
    CredentialsSummary {
        mch_id: mch(),
        appid: None,
        merchant_serial: Some(serial.to_owned()),
        certificate_not_after: None,
    }
}

pub async fn tenant(ctx: &Ctx, name: &str) -> TenantId {
    ctx.store
        .tenants()
        .create(&ctx.audit(), name, Some("ops@example.com"))
        .await
        .expect("tenant")
        .id
}

pub async fn app(ctx: &Ctx, tenant: &TenantId, appid: &str) -> AppId {
    let appid: AppId = appid.parse().expect("appid");
    ctx.store
        .apps()
        .create(
            &ctx.audit(),
            tenant,
            &appid,
            "Shop",
            &SecretString::from(APP_SECRET),
        )
        .await
        .expect("app");
    appid
}

pub fn new_channel(kind: ProviderKind) -> NewChannel {
    NewChannel {
        kind,
        mch_id: mch(),
        name: "Main".into(),
        credentials: SecretString::from(CREDENTIALS),
        summary: summary("SERIAL1"),
    }
}

pub async fn channel(ctx: &Ctx, tenant: &TenantId) -> ChannelId {
    ctx.store
        .channels()
        .create(&ctx.audit(), tenant, &new_channel(ProviderKind::WechatV2))
        .await
        .expect("channel")
        .channel
        .id
}

/// A tenant with one app and one channel.
pub struct Shop {
    pub tenant: TenantId,
    pub appid: AppId,
    pub channel: ChannelId,
}

pub async fn shop(ctx: &Ctx, name: &str, appid: &str) -> Shop {
    let tenant = tenant(ctx, name).await;
    let appid = app(ctx, &tenant, appid).await;
    let channel = channel(ctx, &tenant).await;
    Shop {
        tenant,
        appid,
        channel,
    }
}

pub fn new_order(shop: &Shop, out_trade_no: &str, fen: i64) -> NewOrder {
    NewOrder {
        appid: shop.appid.clone(),
        channel_id: shop.channel.clone(),
        out_trade_no: out_trade_no.parse::<OutTradeNo>().expect("out_trade_no"),
        amount: Money::from_fen(fen).expect("amount"),
        description: "Coffee".into(),
        attach: None,
        trade_type: OrderTradeType::Jsapi,
        payer_openid: Some(
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
                .parse::<OpenId>()
                .expect("openid"),
        ),
        client_ip: Some("203.0.113.7".into()),
        expires_at: None,
    }
}

pub async fn order(ctx: &Ctx, shop: &Shop, out_trade_no: &str, fen: i64) -> OrderId {
    ctx.store
        .orders()
        .create(
            &ctx.audit(),
            &shop.tenant,
            &new_order(shop, out_trade_no, fen),
        )
        .await
        .expect("order")
        .id
}

/// A verified payment notification on `shop`'s channel with dedupe key `key`, stored as
/// `applied`.
pub fn payment_notification(shop: &Shop, key: &str) -> NewNotification {
    NewNotification {
        tenant_id: shop.tenant.clone(),
        channel_id: shop.channel.clone(),
        kind: NotificationKind::Payment,
        dedupe_key: key.to_owned(),
        verified: true,
        outcome: "applied".into(),
        raw_body: b"<xml>body</xml>".to_vec(),
    }
}
