//! `Orders::create_idempotent`: the key's claim, the order and the stored response commit
//! together or not at all, and of concurrent requests with one key exactly one creates.

use paygate_store::{
    Claim, HeldKey, IdempotencyClaim, IdempotentCreate, NewOrder, Order, StoreError,
};
use time::Duration;

use crate::fixtures::{self, Shop};
use crate::harness::Ctx;

/// The error of a `respond` that fails, or the store's.
#[derive(Debug)]
enum Failed {
    Store(StoreError),
    Respond,
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

fn claim<'a>(key: &'a str, request_hash: &'a str) -> IdempotencyClaim<'a> {
    IdempotencyClaim {
        key,
        request_hash,
        adopt_existing: false,
    }
}

/// The response a server would store: 201 and the order's id.
fn respond(order: &Order) -> Result<(u16, Vec<u8>), Failed> {
    Ok((201, format!("{{\"id\":\"{}\"}}", order.id).into_bytes()))
}

async fn create(
    ctx: &Ctx,
    shop: &Shop,
    new: &NewOrder,
    claim: &IdempotencyClaim<'_>,
) -> Result<IdempotentCreate, Failed> {
    ctx.store
        .orders()
        .create_idempotent(&ctx.audit(), &shop.tenant, new, claim, respond)
        .await
}

async fn count(ctx: &Ctx, table: &str) -> i64 {
    ctx.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
}

async fn keys(ctx: &Ctx, key: &str) -> i64 {
    ctx.scalar(&format!(
        "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = '{key}'"
    ))
    .await
}

fn created(outcome: IdempotentCreate) -> (Order, u16, Vec<u8>) {
    match outcome {
        IdempotentCreate::Created {
            order,
            status,
            body,
        } => (*order, status, body),
        held => panic!("expected Created, got {held:?}"),
    }
}

fn held(outcome: IdempotentCreate) -> HeldKey {
    match outcome {
        IdempotentCreate::Held(held) => held,
        created => panic!("expected Held, got {created:?}"),
    }
}

pub async fn idempotent_creates_commit_once(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let new = fixtures::new_order(&shop, "T-idem-0001", 500);

    // One commit: the order, its audit row, and the key holding the response.
    let (order, status, body) = created(
        create(&ctx, &shop, &new, &claim("k1", "h1"))
            .await
            .expect("create"),
    );
    assert_eq!(
        (order.out_trade_no.as_str(), order.amount.fen()),
        ("T-idem-0001", 500)
    );
    assert_eq!(status, 201);
    assert_eq!(body, format!("{{\"id\":\"{}\"}}", order.id).into_bytes());
    assert_eq!(count(&ctx, "orders").await, 1);
    assert_eq!(
        ctx.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'order.create'")
            .await,
        1
    );
    let completed = HeldKey::Completed {
        request_hash: "h1".into(),
        status: 201,
        body: body.clone(),
    };
    // The key is answered, never seen unfinished: a three-step claim sees it completed.
    assert_eq!(
        ctx.store
            .idempotency()
            .claim(&shop.tenant, "k1", "h1")
            .await
            .expect("claim"),
        Claim::from(completed.clone())
    );
    assert_eq!(
        ctx.store
            .idempotency()
            .held(&shop.tenant, "k1")
            .await
            .expect("held"),
        Some(completed.clone())
    );

    // The same key again: the stored response, nothing created — whatever the new request
    // (the hash tells the caller whether it is a replay), even if it would now fail.
    let again = create(&ctx, &shop, &new, &claim("k1", "h1"))
        .await
        .expect("replay");
    assert_eq!(held(again), completed);
    let mut other = fixtures::new_order(&shop, "T-idem-0002", 1);
    let reused = create(&ctx, &shop, &other, &claim("k1", "h2"))
        .await
        .expect("reused");
    assert_eq!(
        held(reused),
        completed,
        "the first request's hash, to compare"
    );
    other.channel_id = paygate_core::new_channel_id(1, 99);
    let invalid_now = create(&ctx, &shop, &other, &claim("k1", "h1"))
        .await
        .expect("held before the order's checks");
    assert_eq!(held(invalid_now), completed);
    assert_eq!(count(&ctx, "orders").await, 1);
    assert_eq!(count(&ctx, "idempotency_keys").await, 1);

    // Keys are per tenant.
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let b_new = fixtures::new_order(&b, "T-idem-0001", 500);
    let (b_order, ..) = created(
        create(&ctx, &b, &b_new, &claim("k1", "h1"))
            .await
            .expect("other tenant"),
    );
    assert_ne!(b_order.id, order.id);

    // Remembered for 24 hours, then the key is free for a new request.
    ctx.clock
        .advance(Duration::hours(24) - Duration::milliseconds(1));
    let fresh = fixtures::new_order(&shop, "T-idem-0003", 700);
    let still = create(&ctx, &shop, &fresh, &claim("k1", "h3"))
        .await
        .expect("within ttl");
    assert_eq!(held(still), completed);
    ctx.clock.advance(Duration::milliseconds(1));
    let (renewed, ..) = created(
        create(&ctx, &shop, &fresh, &claim("k1", "h3"))
            .await
            .expect("expired key"),
    );
    assert_eq!(renewed.amount.fen(), 700);
    assert_eq!(
        ctx.store
            .idempotency()
            .held(&shop.tenant, "k1")
            .await
            .expect("held"),
        Some(HeldKey::Completed {
            request_hash: "h3".into(),
            status: 201,
            body: format!("{{\"id\":\"{}\"}}", renewed.id).into_bytes(),
        })
    );
}

pub async fn refused_idempotent_creates_leave_nothing(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let taken = fixtures::order(&ctx, &shop, "T-taken-001", 100).await;
    let orders_before = count(&ctx, "orders").await;
    let audit_before = count(&ctx, "audit_log").await;

    // The reference is taken (and the key does not adopt): a conflict, the key not held.
    let dup = fixtures::new_order(&shop, "T-taken-001", 999);
    let err = create(&ctx, &shop, &dup, &claim("k1", "h1"))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&err, Failed::Store(StoreError::Conflict { constraint })
            if constraint == "orders_tenant_out_trade_no_key"),
        "{err:?}"
    );
    assert_eq!(keys(&ctx, "k1").await, 0);

    // Another tenant's app or channel, no amount: refused, nothing kept.
    let mut foreign_app = fixtures::new_order(&shop, "T-new-00001", 100);
    foreign_app.appid = b.appid.clone();
    let mut foreign_channel = fixtures::new_order(&shop, "T-new-00001", 100);
    foreign_channel.channel_id = b.channel.clone();
    let zero = fixtures::new_order(&shop, "T-new-00001", 1);
    let zero = NewOrder {
        amount: paygate_core::Money::ZERO,
        ..zero
    };
    for (new, code) in [
        (&foreign_app, "not_found"),
        (&foreign_channel, "not_found"),
        (&zero, "invalid"),
    ] {
        match create(&ctx, &shop, new, &claim("k1", "h1")).await {
            Err(Failed::Store(e)) => assert_eq!(e.code(), code, "{e:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(keys(&ctx, "k1").await, 0);
    }

    // The response cannot be made: the order is rolled back with the claim.
    let new = fixtures::new_order(&shop, "T-new-00001", 100);
    let failed = ctx
        .store
        .orders()
        .create_idempotent(&ctx.audit(), &shop.tenant, &new, &claim("k1", "h1"), |_| {
            Err::<(u16, Vec<u8>), _>(Failed::Respond)
        })
        .await;
    assert!(matches!(failed, Err(Failed::Respond)), "{failed:?}");
    // An invalid status is refused by the store, rolling back too.
    let bad_status = ctx
        .store
        .orders()
        .create_idempotent(&ctx.audit(), &shop.tenant, &new, &claim("k1", "h1"), |_| {
            Ok::<_, Failed>((42, b"{}".to_vec()))
        })
        .await;
    assert!(
        matches!(&bad_status, Err(Failed::Store(e)) if e.code() == "invalid"),
        "{bad_status:?}"
    );
    // A bad key is refused before anything runs.
    let long = "k".repeat(256);
    match create(&ctx, &shop, &new, &claim(&long, "h1")).await {
        Err(Failed::Store(e)) => assert_eq!(e.code(), "invalid"),
        other => panic!("{other:?}"),
    }
    assert_eq!(keys(&ctx, "k1").await, 0);
    assert_eq!(count(&ctx, "orders").await, orders_before);
    assert_eq!(count(&ctx, "audit_log").await, audit_before);

    // The key was never held: the retry runs.
    let (order, ..) = created(
        create(&ctx, &shop, &new, &claim("k1", "h1"))
            .await
            .expect("retry"),
    );
    assert_ne!(order.id, taken);
    assert_eq!(count(&ctx, "orders").await, orders_before + 1);
}

/// A request of the three-step path that died after committing its order: its claim holds the
/// key for the lease; then a create whose reference was derived from the key adopts the order
/// instead of creating a second one, and records the response.
pub async fn idempotent_creates_adopt_a_crashed_runs_order(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let idem = ctx.store.idempotency();
    assert_eq!(
        idem.claim(&shop.tenant, "crash", "h1")
            .await
            .expect("claim"),
        Claim::New
    );
    let first = fixtures::order(&ctx, &shop, "pkderived000001", 300).await;
    let audit_before = count(&ctx, "audit_log").await;
    let new = fixtures::new_order(&shop, "pkderived000001", 300);
    let adopt = IdempotencyClaim {
        adopt_existing: true,
        ..claim("crash", "h1")
    };

    let busy = create(&ctx, &shop, &new, &adopt).await.expect("leased");
    assert_eq!(
        held(busy),
        HeldKey::InProgress {
            request_hash: "h1".into()
        }
    );
    assert_eq!(
        idem.held(&shop.tenant, "crash").await.expect("held"),
        Some(HeldKey::InProgress {
            request_hash: "h1".into()
        })
    );
    ctx.clock.advance(Duration::minutes(2));
    assert_eq!(idem.held(&shop.tenant, "crash").await.expect("held"), None);
    let (order, status, body) = created(create(&ctx, &shop, &new, &adopt).await.expect("adopt"));
    assert_eq!(order.id, first, "the committed order, not a second one");
    assert_eq!(count(&ctx, "orders").await, 1);
    assert_eq!(
        count(&ctx, "audit_log").await,
        audit_before,
        "adopting is not creating"
    );
    assert_eq!(
        idem.held(&shop.tenant, "crash").await.expect("held"),
        Some(HeldKey::Completed {
            request_hash: "h1".into(),
            status,
            body,
        })
    );
}

/// Concurrent requests with one key create one order; the others get the stored response
/// (PostgreSQL: they wait on the key's primary key until the first commits) — never a second
/// order. Concurrent requests with other keys but one reference: one order, one key.
pub async fn concurrent_idempotent_creates_create_one_order(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let spawn = |key: String, out_trade_no: &str| {
        let (store, audit, tenant) = (ctx.store.clone(), ctx.audit(), shop.tenant.clone());
        let new = fixtures::new_order(&shop, out_trade_no, 100);
        tokio::spawn(async move {
            store
                .orders()
                .create_idempotent(&audit, &tenant, &new, &claim(&key, "h"), respond)
                .await
        })
    };
    let tasks: Vec<_> = (0..8)
        .map(|_| spawn("same".into(), "T-race-0001"))
        .collect();
    let mut winner = None;
    let mut replays = Vec::new();
    for task in tasks {
        match task.await.expect("join").expect("create") {
            IdempotentCreate::Created { body, .. } => {
                assert!(winner.replace(body).is_none(), "two creations");
            }
            IdempotentCreate::Held(HeldKey::Completed { body, .. }) => replays.push(body),
            // Allowed, though the one-transaction path never shows a claim unfinished.
            IdempotentCreate::Held(HeldKey::InProgress { .. }) => {}
        }
    }
    let winner = winner.expect("one creation");
    assert!(replays.iter().all(|b| *b == winner), "replays differ");
    assert_eq!(count(&ctx, "orders").await, 1);

    let tasks: Vec<_> = (0..8)
        .map(|i| spawn(format!("key-{i}"), "T-race-0002"))
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(IdempotentCreate::Created { .. }) => created += 1,
            Err(Failed::Store(StoreError::Conflict { constraint })) => {
                assert_eq!(constraint, "orders_tenant_out_trade_no_key");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(count(&ctx, "orders").await, 2);
    assert_eq!(
        ctx.scalar("SELECT COUNT(*) FROM idempotency_keys WHERE idem_key LIKE 'key-%'")
            .await,
        1,
        "the refused requests' keys were rolled back"
    );
}
