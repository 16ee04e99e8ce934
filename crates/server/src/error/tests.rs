use std::collections::HashSet;

use super::*;

/// One sample per variant; the exhaustive match makes adding a variant without a sample a
/// compile error.
fn samples() -> Vec<ApiError> {
    let mut all = vec![
        ApiError::malformed("x", None),
        ApiError::UnsupportedMediaType,
        ApiError::PayloadTooLarge,
        ApiError::RequestTimeout,
        ApiError::MethodNotAllowed,
        ApiError::MissingToken,
        ApiError::InvalidToken,
        ApiError::TokenExpired,
        ApiError::TokenRevoked,
        ApiError::InvalidCredentials,
        ApiError::TooManyLoginAttempts {
            retry_after_secs: 1,
        },
        ApiError::InvalidApiKey,
        ApiError::Forbidden,
        ApiError::TenantSuspended,
        ApiError::InsufficientScope { required: "read" },
        ApiError::InvalidChannelCredentials {
            field: "f".into(),
            reason: "r".into(),
        },
        ApiError::UnsupportedChannelKind,
        ApiError::NotReady,
        ApiError::Internal("x".into()),
    ];
    all.extend(PaymentError::SAMPLES.map(ApiError::Payment));
    all.extend(Resource::ALL.map(ApiError::NotFound));
    all.extend(Conflict::ALL.map(ApiError::Conflict));
    for e in &all {
        match e {
            ApiError::InvalidRequest { .. }
            | ApiError::UnsupportedMediaType
            | ApiError::PayloadTooLarge
            | ApiError::RequestTimeout
            | ApiError::MethodNotAllowed
            | ApiError::MissingToken
            | ApiError::InvalidToken
            | ApiError::TokenExpired
            | ApiError::TokenRevoked
            | ApiError::InvalidCredentials
            | ApiError::TooManyLoginAttempts { .. }
            | ApiError::InvalidApiKey
            | ApiError::Forbidden
            | ApiError::TenantSuspended
            | ApiError::InsufficientScope { .. }
            | ApiError::NotFound(_)
            | ApiError::Conflict(_)
            | ApiError::InvalidChannelCredentials { .. }
            | ApiError::UnsupportedChannelKind
            | ApiError::NotReady
            | ApiError::Payment(_)
            | ApiError::Internal(_) => {}
        }
    }
    all
}

#[test]
fn every_code_is_unique_and_snake_case() {
    let codes: Vec<&str> = samples().iter().map(ApiError::code).collect();
    let unique: HashSet<&str> = codes.iter().copied().collect();
    assert_eq!(unique.len(), codes.len(), "duplicate code in {codes:?}");
    for code in codes {
        assert!(
            !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{code}"
        );
    }
}

#[test]
fn every_error_is_a_client_or_server_error() {
    for e in samples() {
        assert!(
            e.status().is_client_error() || e.status().is_server_error(),
            "{e:?}"
        );
    }
}

async fn body_of(e: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let response = e.into_response();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, headers, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn internal_errors_hide_their_detail() {
    let (status, _, body) = body_of(ApiError::internal("db password=hunter2 refused")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "internal_error");
    assert!(!body.to_string().contains("hunter2"), "{body}");
}

#[tokio::test]
async fn field_errors_and_retry_after_are_in_the_envelope() {
    let (status, _, body) = body_of(ApiError::invalid_field("scopes", "unknown scope")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "invalid_request");
    assert_eq!(body["details"]["field"], "scopes");
    assert_eq!(body["details"]["reason"], "unknown scope");

    let (status, headers, body) = body_of(ApiError::TooManyLoginAttempts {
        retry_after_secs: 42,
    })
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "42");
    assert_eq!(body["details"]["retry_after_seconds"], 42);

    let (status, headers, body) = body_of(ApiError::MissingToken).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert!(body.get("details").is_none());
}

#[test]
fn store_errors_map_by_entity_and_constraint() {
    let code = |e: StoreError| ApiError::from(e).code();
    assert_eq!(
        code(StoreError::NotFound { entity: "tenant" }),
        "tenant_not_found"
    );
    assert_eq!(
        code(StoreError::NotFound {
            entity: "webhook endpoint"
        }),
        "webhook_not_found"
    );
    assert_eq!(code(StoreError::NotFound { entity: "thing" }), "not_found");
    let conflict = |c: &str| {
        code(StoreError::Conflict {
            constraint: c.into(),
        })
    };
    assert_eq!(conflict("apps_appid_key"), "appid_taken");
    assert_eq!(conflict("operators_username_key"), "username_taken");
    assert_eq!(conflict("channels_tenant_kind_mch_key"), "channel_exists");
    assert_eq!(conflict("tenants_pkey"), "conflict");
    assert_eq!(
        code(StoreError::RetireCurrentVersion { version: 2 }),
        "credentials_version_current"
    );
    let invalid = ApiError::from(StoreError::Invalid {
        field: "name",
        message: "must not be blank".into(),
    });
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.code(), "invalid_request");
    assert_eq!(
        ApiError::from(StoreError::UnsupportedUrl).status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn payment_errors_carry_retry_after_and_upstream_codes() {
    let (status, headers, body) = body_of(ApiError::Payment(PaymentError::RateLimited {
        retry_after_secs: 3,
    }))
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers[header::RETRY_AFTER], "3");
    assert_eq!(body["code"], "rate_limited");

    let (status, _, body) = body_of(ApiError::Payment(PaymentError::UpstreamRejected {
        code: "INVALID_REQUEST".into(),
        message: "bad".into(),
    }))
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["details"]["upstream_code"], "INVALID_REQUEST");

    let (status, _, body) = body_of(ApiError::Payment(PaymentError::RefundExceedsAvailable {
        available: 150,
    }))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["details"]["available_amount"], 150);
    assert_eq!(
        ApiError::from(StoreError::Conflict {
            constraint: "orders_tenant_out_trade_no_key".into()
        })
        .code(),
        "duplicate_out_trade_no"
    );
}
