//! Relay cursor pagination over offset windows.
//!
//! Cursors are opaque (base64 of the row's position in the ordered listing).
//! `first`/`last` are bounded by [`MAX_PAGE`]; with neither, [`DEFAULT_PAGE`]
//! rows are returned from the start.

use async_graphql::{
    ObjectType, OutputType,
    connection::{Connection, CursorType, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use super::error::{ApiResult, ErrorCode};

/// Largest `first` or `last` accepted.
pub const MAX_PAGE: i32 = 250;
/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;

/// A position in an ordered listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCursor(pub u64);

impl CursorType for OffsetCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bad = || format!("`{s}` is not a valid cursor");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        text.strip_prefix("offset:")
            .and_then(|n| n.parse().ok())
            .map(OffsetCursor)
            .ok_or_else(bad)
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("offset:{}", self.0))
    }
}

/// The pagination arguments of a connection field.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Rows after the `after` cursor.
    pub first: Option<i32>,
    /// Only rows after this cursor.
    pub after: Option<String>,
    /// Rows before the `before` cursor.
    pub last: Option<i32>,
    /// Only rows before this cursor.
    pub before: Option<String>,
}

/// Pagination arguments once checked: sizes in range, cursors decoded to offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// `first`.
    pub first: Option<u64>,
    /// Offset of the `after` cursor.
    pub after: Option<u64>,
    /// `last`.
    pub last: Option<u64>,
    /// Offset of the `before` cursor.
    pub before: Option<u64>,
}

/// Which rows to read: `offset`, `limit` (one more than wanted when the end is
/// open, to learn whether there is a next page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First row.
    pub offset: u64,
    /// Rows wanted.
    pub wanted: u64,
    /// Whether to read one extra row to detect a following page.
    pub probe_next: bool,
    /// `hasPreviousPage`.
    pub has_previous: bool,
    /// `hasNextPage` when known without probing.
    pub has_next_known: Option<bool>,
}

fn size(name: &str, v: Option<i32>) -> ApiResult<Option<u64>> {
    match v {
        None => Ok(None),
        Some(n) if (0..=MAX_PAGE).contains(&n) => Ok(Some(n as u64)),
        Some(n) => Err(ErrorCode::BadUserInput.error(format!(
            "`{name}` must be between 0 and {MAX_PAGE}, got {n}"
        ))),
    }
}

fn cursor(name: &str, v: &Option<String>) -> ApiResult<Option<u64>> {
    v.as_deref()
        .map(|s| {
            OffsetCursor::decode_cursor(s)
                .map(|c| c.0)
                .map_err(|e| ErrorCode::BadUserInput.error(format!("`{name}`: {e}")))
        })
        .transpose()
}

impl Window {
    /// The connection of `rows`, read for this window out of `total`: each
    /// edge's cursor is its row's position in the listing.
    pub fn connection<R, N: OutputType, C: ObjectType>(
        &self,
        rows: Vec<R>,
        total: u64,
        fields: C,
        node: impl Fn(R) -> N,
    ) -> Connection<OffsetCursor, N, C> {
        let mut conn = Connection::with_additional_fields(
            self.has_previous,
            self.offset + self.wanted < total,
            fields,
        );
        conn.edges.extend(
            rows.into_iter()
                .enumerate()
                .map(|(i, r)| Edge::new(OffsetCursor(self.offset + i as u64), node(r))),
        );
        conn
    }
}

impl PageArgs {
    /// Forward-only arguments: `first` rows `after` a cursor.
    pub fn forward(first: Option<i32>, after: Option<String>) -> Self {
        Self {
            first,
            after,
            last: None,
            before: None,
        }
    }

    /// Checks the arguments (sizes in range, cursors valid) before any query runs.
    pub fn validate(&self) -> ApiResult<Checked> {
        Ok(Checked {
            first: size("first", self.first)?,
            after: cursor("after", &self.after)?,
            last: size("last", self.last)?,
            before: cursor("before", &self.before)?,
        })
    }

    /// Whether the window needs the total row count (`last` without `before`).
    pub fn needs_total(&self) -> bool {
        self.last.is_some() && self.before.is_none() && self.first.is_none()
    }

    /// Computes the window; `total` must be given when [`Self::needs_total`].
    pub fn window(&self, total: Option<u64>) -> ApiResult<Window> {
        let Checked {
            first,
            after,
            last,
            before,
        } = self.validate()?;
        let first = if first.is_none() && last.is_none() {
            Some(DEFAULT_PAGE as u64)
        } else {
            first
        };
        let mut start = after.map_or(0, |a| a + 1);
        let mut end = before;
        if let Some(f) = first {
            end = Some(end.map_or(start + f, |e| e.min(start + f)));
        }
        let open_end = first.is_some() && before.is_none();
        if let Some(l) = last {
            let e = match end.or(total) {
                Some(e) => e,
                None => return Err(ErrorCode::Internal.error("pagination without a total")),
            };
            start = start.max(e.saturating_sub(l));
            end = Some(e);
        }
        let end = end.unwrap_or(start).max(start);
        Ok(Window {
            offset: start,
            wanted: end - start,
            probe_next: open_end && last.is_none(),
            has_previous: start > 0,
            has_next_known: if open_end && last.is_none() {
                None
            } else {
                Some(before.is_some() || total.is_some_and(|t| end < t))
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        first: Option<i32>,
        after: Option<u64>,
        last: Option<i32>,
        before: Option<u64>,
    ) -> PageArgs {
        PageArgs {
            first,
            after: after.map(|a| OffsetCursor(a).encode_cursor()),
            last,
            before: before.map(|b| OffsetCursor(b).encode_cursor()),
        }
    }

    #[test]
    fn first_after_pages_forward() {
        let w = args(Some(10), Some(9), None, None)
            .window(None)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (w.offset, w.wanted, w.probe_next, w.has_previous),
            (10, 10, true, true)
        );
    }

    #[test]
    fn last_before_pages_backward() {
        let w = args(None, None, Some(5), Some(12))
            .window(None)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (w.offset, w.wanted, w.has_previous, w.has_next_known),
            (7, 5, true, Some(true))
        );
        let w = args(None, None, Some(5), None)
            .window(Some(3))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (w.offset, w.wanted, w.has_previous, w.has_next_known),
            (0, 3, false, Some(false))
        );
    }

    #[test]
    fn out_of_range_sizes_and_bad_cursors_are_refused() {
        assert!(args(Some(-1), None, None, None).validate().is_err());
        assert!(args(Some(100_000), None, None, None).validate().is_err());
        let bad = PageArgs {
            after: Some("nope".into()),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
