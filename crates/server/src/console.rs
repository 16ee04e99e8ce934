//! The operator console: the single-page app built from `admin/` (see `admin/README` in the
//! repository README), embedded in the binary and served at `/admin/`.
//!
//! The files are compiled in from `admin/dist/` (committed, rebuilt and diffed by
//! `.ci/console-build-check.sh`), so `cargo build` alone yields a working console and nothing is
//! read from disk at run time. Every response carries a strict Content-Security-Policy (no
//! inline script or style, nothing from another origin), `nosniff` and `no-referrer`; assets are
//! revalidated (`no-cache`) against a strong `ETag` so an upgraded binary is picked up at once.
//!
//! This module must never serve anything but these embedded files (no directory reads, no
//! path joins from the request), and the console must never get a private endpoint: it talks
//! to the public admin API under `/admin/v1` like any other client.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Resource};

/// The policy of every console response; the app is written to run under it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// One embedded file of `admin/dist/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../admin/dist/",
                $name
            )),
        }
    };
}

/// Every file the build writes (the test `every_built_file_is_served` fails if `admin/dist/`
/// holds one that is not listed here).
const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Strong validators, one per asset, computed once (hashing ~100 KiB takes well under 1 ms).
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.body);
            let tag = format!("\"{}\"", hex::encode(&digest[..16]));
            HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
        })
        .collect()
});

/// The console routes: `/admin` (redirect), `/admin/` and `/admin/{file}`.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(index))
        .route("/admin/{file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for this header).
fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(tag) = etag.to_str().ok() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|a| a.name == name) else {
        return ApiError::NotFound(Resource::Other).into_response();
    };
    let (Some(asset), Some(etag)) = (ASSETS.get(index), ETAGS.get(index)) else {
        return ApiError::NotFound(Resource::Other).into_response();
    };
    let mut response = if none_match(headers, etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = asset.body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        r
    };
    let h = response.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt as _;

    async fn get_path(path: &str, if_none_match: Option<&str>) -> Response {
        let mut req = Request::builder().uri(path);
        if let Some(tag) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        router::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header_of(r: &Response, name: header::HeaderName) -> &str {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn dist_dir() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../admin/dist")
    }

    #[tokio::test]
    async fn index_is_served_with_the_strict_policy() {
        let r = get_path("/admin/", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header_of(&r, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            header_of(&r, header::CONTENT_SECURITY_POLICY),
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        );
        assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert_eq!(header_of(&r, header::REFERRER_POLICY), "no-referrer");
        assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
        let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        let html = std::str::from_utf8(&body).unwrap();
        assert_eq!(body, std::fs::read(dist_dir().join("index.html")).unwrap());
        // The policy forbids inline code: the page may only reference its own files.
        assert!(html.contains(r#"<script src="app.js""#), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<style") && !html.contains(" style=")
        );
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[tokio::test]
    async fn every_built_file_is_served_with_its_type() {
        let mut seen = 0;
        for entry in std::fs::read_dir(dist_dir()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let expected_type = match name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                other => panic!("admin/dist/{name}: no content type known for {other:?}"),
            };
            let r = get_path(&format!("/admin/{name}"), None).await;
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "admin/dist/{name} is not embedded"
            );
            assert_eq!(header_of(&r, header::CONTENT_TYPE), expected_type, "{name}");
            assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            assert_eq!(
                body,
                std::fs::read(entry.path()).unwrap(),
                "{name} is stale"
            );
            seen += 1;
        }
        assert_eq!(
            seen,
            ASSETS.len(),
            "an embedded file is missing from admin/dist"
        );
    }

    #[tokio::test]
    async fn a_matching_etag_answers_304_and_another_the_file() {
        let first = get_path("/admin/app.js", None).await;
        let etag = header_of(&first, header::ETAG).to_owned();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
            "{etag}"
        );
        let again = get_path("/admin/app.js", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header_of(&again, header::ETAG), etag);
        assert!(
            to_bytes(again.into_body(), usize::MAX)
                .await
                .unwrap()
                .is_empty()
        );
        let listed = get_path("/admin/app.js", Some(&format!("\"x\", W/{etag}"))).await;
        assert_eq!(listed.status(), StatusCode::NOT_MODIFIED);
        let other = get_path("/admin/app.js", Some("\"0000\"")).await;
        assert_eq!(other.status(), StatusCode::OK);
        // Each file has its own validator.
        let css = get_path("/admin/app.css", Some(&etag)).await;
        assert_eq!(css.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_files_are_404_and_bare_admin_redirects() {
        for path in [
            "/admin/nope.js",
            "/admin/..%2FCargo.toml",
            "/admin/index.htm",
        ] {
            let r = get_path(path, None).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        let r = get_path("/admin", None).await;
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(header_of(&r, header::LOCATION), "/admin/");
    }
}
