//! The list envelope `{"data": [...], "next_cursor": ...}` and the `?limit=&cursor=` query.
//! Lists are keyset-paginated by the store (newest first); the cursor is opaque to clients.

use std::str::FromStr;

use paygate_store::{Page, Paged};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// `?limit=&cursor=` of every list endpoint.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1–200 (values outside are clamped); default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The store page, after checking that the cursor is an id of the listed kind `Id` (a
    /// cursor from another list, or garbage, would otherwise silently yield a wrong page).
    pub fn page<Id: FromStr>(&self) -> Result<Page, ApiError> {
        if let Some(cursor) = &self.cursor
            && Id::from_str(cursor).is_err()
        {
            return Err(ApiError::malformed(
                "cursor: is not a next_cursor of this list",
                Some("cursor".to_owned()),
            ));
        }
        Ok(Page::new(self.limit, self.cursor.clone()))
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// Converts a store page into the API shape, row by row.
    pub fn from_paged<R>(paged: Paged<R>, f: impl FnMut(R) -> T) -> Self {
        List {
            data: paged.data.into_iter().map(f).collect(),
            next_cursor: paged.next_cursor,
        }
    }
}
