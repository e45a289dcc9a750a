//! Listings paged by cursor: [`Page`] and [`Cursor`].
//!
//! A page ends at a cursor, the sort key and row id of its last row; the next page is the rows
//! strictly after that position in the listing's order. Rows added or removed meanwhile never
//! shift a page, as skipping a count of rows would (showing a row twice, or never).

use std::fmt;

/// A position in a listing: the sort key (a Unix time) and the row id of the last row of a page.
/// Its text form, `KEY.ROW` in decimal, is opaque to clients; a cursor is meaningful only to the
/// listing that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) key: i64,
    pub(crate) row: i64,
}

impl Cursor {
    /// The longest text form: two signed 64-bit numbers and the dot.
    pub const MAX_TEXT: usize = 41;

    /// Reads the text form; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let (key, row) = text.split_once('.')?;
        let number = |part: &str| {
            let digits = part.strip_prefix('-').unwrap_or(part);
            // Only plain decimals: `i64::from_str` would also take a leading `+`, and one
            // position would then have many texts.
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse::<i64>().ok()
        };
        Some(Self {
            key: number(key)?,
            row: number(row)?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.key, self.row)
    }
}

/// One page of a listing: its rows, and where the next page starts if there are more rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// The page of at most `limit` rows from `rows`, which were fetched with one row more than
    /// `limit` so as to tell whether a next page exists; `position` gives a row's cursor.
    pub(crate) fn of(mut rows: Vec<T>, limit: u32, position: impl Fn(&T) -> Cursor) -> Self {
        let limit = limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(position)
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// The same page with each row turned into something else.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            next: self.next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_writes_and_nothing_else() {
        for cursor in [
            Cursor { key: 0, row: 1 },
            Cursor {
                key: 1_796_000_000,
                row: 42,
            },
            Cursor {
                key: i64::MIN,
                row: i64::MAX,
            },
        ] {
            let text = cursor.to_string();
            assert!(text.len() <= Cursor::MAX_TEXT, "{text}");
            assert_eq!(Cursor::parse(&text), Some(cursor));
        }
        for bad in [
            "",
            ".",
            "1",
            "1.",
            ".1",
            "+1.2",
            "1.+2",
            "1.2.3",
            "a.b",
            "1 .2",
            "-.1",
            "99999999999999999999.1",
            "1.2\0",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_page_says_where_the_next_begins_only_when_there_are_more_rows() {
        let position = |n: &i64| Cursor { key: *n, row: *n };
        let page = Page::of(vec![1, 2, 3], 2, position);
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next, Some(Cursor { key: 2, row: 2 }));
        let last = Page::of(vec![1, 2], 2, position);
        assert_eq!((last.items.len(), last.next), (2, None));
        assert_eq!(Page::of(Vec::new(), 2, position).next, None);
    }
}
