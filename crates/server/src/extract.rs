//! Our own `Json`, `Path` and `Query` extractors: axum's, with rejections turned into
//! [`ApiError`] so malformed input gets the standard envelope (400/422 `invalid_request`, 415,
//! 413) with `details.field` naming the field at fault.
//!
//! The reason text is rebuilt from serde's message without the parts that quote the submitted
//! value (`invalid type: string "…"`), because a misplaced secret must never be echoed back.

use std::error::Error as StdError;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// JSON body in, JSON body out.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => {
                let index = failing_index(&rejection);
                let mut err = ApiError::from(rejection);
                // A single-value `Path<X>` reports no key, and a tuple only the failing
                // position: name the parameter from the route's raw parameters.
                if let ApiError::InvalidRequest { field, message, .. } = &mut err
                    && field.is_none()
                    && let Ok(raw) = RawPathParams::from_request_parts(parts, state).await
                {
                    let params: Vec<(&str, &str)> = raw.iter().collect();
                    let key = match (index, &params[..]) {
                        (Some(i), _) => params.get(i).map(|(k, _)| *k),
                        (None, [(k, _)]) => Some(*k),
                        _ => None,
                    };
                    if let Some(key) = key {
                        *message = format!("{key}: {message}");
                        *field = Some(key.to_owned());
                    }
                }
                Err(err)
            }
        }
    }
}

/// The position of the failing parameter of a tuple `Path`, when axum reports one.
fn failing_index(rejection: &PathRejection) -> Option<usize> {
    use axum::extract::path::ErrorKind;
    match rejection {
        PathRejection::FailedToDeserializePathParams(err) => match err.kind() {
            ErrorKind::ParseErrorAtIndex { index, .. } => Some(*index),
            _ => None,
        },
        _ => None,
    }
}

/// Query-string parameters.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// For PATCH bodies: distinguishes an absent field (`None`: leave it) from an explicit `null`
/// (`Some(None)`: clear it). Use with `#[serde(default, deserialize_with = "nullable")]`.
pub fn nullable<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Finds serde_path_to_error's error of format `F` in a rejection's source chain.
fn path_error<'a, F: StdError + 'static>(
    rejection: &'a (dyn StdError + 'static),
) -> Option<&'a serde_path_to_error::Error<F>> {
    let mut current = Some(rejection);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<serde_path_to_error::Error<F>>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

fn field_name(path: &serde_path_to_error::Path) -> Option<String> {
    let shown = path.to_string();
    (shown != "." && !shown.is_empty()).then_some(shown)
}

/// serde's message without the submitted value and without serde_json's position suffix.
pub(crate) fn sanitize_reason(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    const QUOTING: [&str; 4] = [
        "invalid type",
        "invalid value",
        "invalid length",
        "unknown variant",
    ];
    match QUOTING.iter().find(|p| message.starts_with(*p)) {
        Some(kind) => match message.split_once(", expected ") {
            Some((_, expected)) => format!("{kind}, expected {expected}"),
            None => (*kind).to_owned(),
        },
        None => message.to_owned(),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonDataError(err) => match path_error::<serde_json::Error>(err) {
                Some(e) => {
                    let reason = sanitize_reason(&e.inner().to_string());
                    match field_name(e.path()) {
                        Some(field) => ApiError::invalid_field(field, reason),
                        None => ApiError::InvalidRequest {
                            status: StatusCode::UNPROCESSABLE_ENTITY,
                            message: format!("the body does not match the schema: {reason}"),
                            field: None,
                        },
                    }
                }
                None => ApiError::InvalidRequest {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    message: "the body does not match the schema".to_owned(),
                    field: None,
                },
            },
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::malformed("the request body is not valid JSON", None)
            }
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::malformed("the request body could not be read", None),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        match path_error::<serde_urlencoded::de::Error>(&rejection) {
            Some(e) => {
                let reason = sanitize_reason(&e.inner().to_string());
                match field_name(e.path()) {
                    Some(field) => ApiError::malformed(format!("{field}: {reason}"), Some(field)),
                    None => ApiError::malformed(format!("invalid query string: {reason}"), None),
                }
            }
            None => ApiError::malformed("invalid query string", None),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let PathRejection::FailedToDeserializePathParams(err) = &rejection else {
            return ApiError::internal(format!("path extraction misconfigured: {rejection}"));
        };
        let (field, reason) = match err.kind() {
            ErrorKind::ParseErrorAtKey {
                key, expected_type, ..
            } => (Some(key.clone()), format!("expected {expected_type}")),
            ErrorKind::DeserializeError { key, message, .. } => {
                (Some(key.clone()), sanitize_reason(message))
            }
            ErrorKind::InvalidUtf8InPathParam { key } => {
                (Some(key.clone()), "invalid UTF-8".to_owned())
            }
            ErrorKind::ParseErrorAtIndex { expected_type, .. } => {
                (None, format!("expected {expected_type}"))
            }
            ErrorKind::Message(message) => (None, sanitize_reason(message)),
            _ => (None, "invalid path parameter".to_owned()),
        };
        let message = match &field {
            Some(f) => format!("{f}: {reason}"),
            None => reason,
        };
        ApiError::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            message,
            field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "nullable")]
        email: Option<Option<String>>,
    }

    #[test]
    fn nullable_tells_absent_from_null() {
        let p = |s: &str| serde_json::from_str::<Patch>(s).unwrap().email;
        assert_eq!(p("{}"), None);
        assert_eq!(p(r#"{"email":null}"#), Some(None));
        assert_eq!(p(r#"{"email":"a@b.c"}"#), Some(Some("a@b.c".to_owned())));
    }

    #[test]
    fn reasons_never_quote_the_value() {
        assert_eq!(
            sanitize_reason("invalid type: string \"s3cret\", expected u32 at line 1 column 9"),
            "invalid type, expected u32"
        );
        assert_eq!(
            sanitize_reason("unknown variant `s3cret`, expected `admin` or `viewer`"),
            "unknown variant, expected `admin` or `viewer`"
        );
        assert_eq!(
            sanitize_reason("missing field `name` at line 1 column 2"),
            "missing field `name`"
        );
        assert_eq!(
            sanitize_reason("invalid tenant_id: must be \"ten_\" followed by 26 base32 characters"),
            "invalid tenant_id: must be \"ten_\" followed by 26 base32 characters"
        );
    }
}
