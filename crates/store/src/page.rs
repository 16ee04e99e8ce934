//! Keyset pagination: [`Page`] in, [`Paged`] out.
//!
//! Every list is ordered by its time-ordered id, newest first. The cursor is the last id of
//! the previous page (opaque to clients), so pages never skip or repeat rows when new rows
//! arrive between requests; `next_cursor` is `None` on the last page.

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    limit: u32,
    cursor: Option<String>,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    /// A page of at most `limit` rows (clamped to 1..=200; default 50) after `cursor`.
    pub fn new(limit: Option<u32>, cursor: Option<String>) -> Page {
        Page {
            limit: limit
                .unwrap_or(Self::DEFAULT_LIMIT)
                .clamp(1, Self::MAX_LIMIT),
            cursor: cursor.filter(|c| !c.is_empty()),
        }
    }

    /// The first page with the default limit.
    pub fn first() -> Page {
        Page::new(None, None)
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The SQL `LIMIT`: one more than asked, to learn whether another page exists.
    pub(crate) fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::first()
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub data: Vec<T>,
    /// Pass back as the cursor for the next page; `None` when this is the last one.
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// Trims the extra probe row fetched by [`Page::fetch_limit`] and derives the cursor.
    pub(crate) fn from_probe(mut rows: Vec<T>, page: &Page, key: impl Fn(&T) -> String) -> Self {
        let limit = page.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(key)
        } else {
            None
        };
        Paged {
            data: rows,
            next_cursor,
        }
    }

    /// Converts every row, failing on the first error.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Paged<U>, E> {
        Ok(Paged {
            data: self.data.into_iter().map(f).collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped() {
        assert_eq!(Page::new(None, None).limit(), 50);
        assert_eq!(Page::new(Some(0), None).limit(), 1);
        assert_eq!(Page::new(Some(10_000), None).limit(), 200);
        assert_eq!(Page::new(Some(5), Some(String::new())).cursor(), None);
    }

    #[test]
    fn the_probe_row_decides_the_cursor() {
        let page = Page::new(Some(2), None);
        let more = Paged::from_probe(vec![3, 2, 1], &page, |n| n.to_string());
        assert_eq!(more.data, vec![3, 2]);
        assert_eq!(more.next_cursor.as_deref(), Some("2"));
        let last = Paged::from_probe(vec![3, 2], &page, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }
}
