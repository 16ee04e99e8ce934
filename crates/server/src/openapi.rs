//! The OpenAPI document's frame: info, tags, the two security schemes and the shared schemas.
//! Paths come from the `#[utoipa::path]` of each handler, collected by `utoipa-axum`'s
//! `routes!` where the router is built, so the document cannot drift from the routes.
//!
//! The committed `openapi/openapi.json` is generated from [`crate::openapi()`] and checked by a
//! test (`UPDATE_OPENAPI=1 cargo test -p paygate-server openapi` rewrites it).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetails};

/// Security scheme name of operator JWTs (`POST /admin/v1/login`).
pub const OPERATOR_JWT: &str = "operator_jwt";
/// Security scheme name of tenant API keys (`pk_…`).
pub const TENANT_API_KEY: &str = "tenant_api_key";
/// Security scheme name of mini-program session tokens (`POST /v1/apps/{appid}/sessions`).
pub const MINIPROGRAM_SESSION: &str = "miniprogram_session";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "paygate",
        description = "Multi-tenant WeChat Pay gateway.\n\n\
            * `/admin/v1`: the operator API. Log in with `POST /admin/v1/login`, then send \
              `Authorization: Bearer <token>`. Viewers may only GET; writes need the admin role.\n\
            * `/v1`: the tenant API, authenticated with an API key \
              (`Authorization: Bearer pk_…`) from the tenant's backend, or with a mini-program \
              session token (`POST /v1/apps/{appid}/sessions`) that can only pay and read its \
              own user's orders.\n\n\
            Errors are `{\"code\", \"message\", \"details\"?}` with stable snake_case codes. Lists \
            are `{\"data\": [...], \"next_cursor\": \"…\" | null}`, newest first; pass \
            `?cursor=` to continue and `?limit=` (1–200, default 50). Times are RFC 3339 UTC; \
            amounts are integer fen.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorBody, ErrorDetails)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "ops", description = "Health, readiness and metrics"),
        (name = "auth", description = "Operator login"),
        (name = "operators", description = "Operator accounts"),
        (name = "tenants", description = "Tenants (merchant businesses)"),
        (name = "apps", description = "Mini-program apps of a tenant"),
        (name = "channels", description = "Payment channels and their credentials"),
        (name = "api-keys", description = "Tenant API keys"),
        (name = "webhook", description = "A tenant's webhook endpoint"),
        (name = "views", description = "Read-only views: orders, refunds, events, stats, alerts, audit log"),
        (name = "tenant", description = "The tenant API"),
        (name = "notify", description = "WeChat-facing: payment and refund result notifications \
            from WeChat Pay. Not for tenants; the notify URLs paygate gives WeChat point here"),
    )
)]
pub(crate) struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_default();
        components.add_security_scheme(
            OPERATOR_JWT,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Operator token from POST /admin/v1/login (HS256, 15 minutes)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            TENANT_API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pk_…")
                    .description(Some("Tenant API key, shown once when created"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            MINIPROGRAM_SESSION,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Mini-program session from POST /v1/apps/{appid}/sessions (2 hours)",
                    ))
                    .build(),
            ),
        );
    }
}
