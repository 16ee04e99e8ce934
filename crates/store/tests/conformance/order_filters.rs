//! Order lists filtered by payer and app (a mini-program session's own orders) page in SQL:
//! full pages, an exact `next_cursor`, and nothing of another app, payer or tenant.

use paygate_core::{AppId, OpenId, OrderId};
use paygate_store::{OrderFilter, Page};
use time::Duration;

use crate::fixtures::{self, Shop};
use crate::harness::Ctx;

const PAYER: &str = "oPayer0000000000000000000001";

async fn order_of(ctx: &Ctx, shop: &Shop, appid: &AppId, payer: Option<&str>, n: usize) -> OrderId {
    ctx.clock.advance(Duration::milliseconds(1));
    let mut new = fixtures::new_order(shop, &format!("F{n:010}"), 100);
    new.appid = appid.clone();
    new.payer_openid = payer.map(|p| p.parse::<OpenId>().expect("openid"));
    let created = ctx
        .store
        .orders()
        .create(&ctx.audit(), &shop.tenant, &new)
        .await;
    created.expect("order").id
}

/// Every page of `filter` at `limit`: the ids of each page.
async fn pages(ctx: &Ctx, shop: &Shop, filter: &OrderFilter, limit: u32) -> Vec<Vec<OrderId>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = Page::new(Some(limit), cursor.take());
        let got = ctx.store.orders().list(&shop.tenant, filter, &page).await;
        let got = got.expect("page");
        pages.push(got.data.into_iter().map(|o| o.id).collect());
        match got.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
}

pub async fn orders_filter_by_payer_and_app(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let other_app = fixtures::app(&ctx, &shop.tenant, "wxcccc").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;

    // The payer's 5 orders of app A among 20 others: other payers, unbound orders, the same
    // payer in another app of the tenant and in another tenant.
    let mut mine = Vec::new();
    for n in 0..25 {
        let other = "oSomeoneElse000000000000001";
        match n % 5 {
            0 => mine.push(order_of(&ctx, &shop, &shop.appid, Some(PAYER), n).await),
            1 => drop(order_of(&ctx, &shop, &shop.appid, None, n).await),
            2 => drop(order_of(&ctx, &shop, &other_app, Some(PAYER), n).await),
            3 => drop(order_of(&ctx, &b, &b.appid, Some(PAYER), n).await),
            _ => drop(order_of(&ctx, &shop, &shop.appid, Some(other), n).await),
        }
    }
    mine.reverse();

    let session = OrderFilter {
        payer_openid: Some(PAYER.parse().expect("openid")),
        appid: Some(shop.appid.clone()),
        ..OrderFilter::default()
    };
    let got = pages(&ctx, &shop, &session, 2).await;
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(got.concat(), mine, "newest first, no gaps or duplicates");
    // A page that ends exactly at the last order has no next cursor.
    let exact = pages(&ctx, &shop, &session, 5).await;
    assert_eq!(exact, [mine.clone()]);

    // The payer across the tenant's apps; another tenant sees only its own.
    let any_app = OrderFilter {
        payer_openid: session.payer_openid.clone(),
        ..OrderFilter::default()
    };
    assert_eq!(pages(&ctx, &shop, &any_app, 50).await.concat().len(), 10);
    assert_eq!(pages(&ctx, &b, &any_app, 50).await.concat().len(), 5);
    assert_eq!(pages(&ctx, &b, &session, 50).await.concat().len(), 0);
    let app_only = OrderFilter {
        appid: Some(other_app),
        ..OrderFilter::default()
    };
    assert_eq!(pages(&ctx, &shop, &app_only, 50).await.concat().len(), 5);
    let nobody = OrderFilter {
        payer_openid: Some("oNobody00000000000000000000".parse().expect("openid")),
        ..OrderFilter::default()
    };
    assert_eq!(
        pages(&ctx, &shop, &nobody, 50).await,
        [Vec::<OrderId>::new()]
    );

    // By channel: all 20 of A's orders are on A's channel; B's channel names none of A's.
    let on_a = OrderFilter {
        channel_id: Some(shop.channel.clone()),
        ..OrderFilter::default()
    };
    assert_eq!(pages(&ctx, &shop, &on_a, 50).await.concat().len(), 20);
    let on_b = OrderFilter {
        channel_id: Some(b.channel.clone()),
        ..OrderFilter::default()
    };
    assert_eq!(pages(&ctx, &shop, &on_b, 50).await, [Vec::<OrderId>::new()]);
    assert_eq!(pages(&ctx, &b, &on_b, 50).await.concat().len(), 5);
}
