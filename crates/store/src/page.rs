//! Listings paged by cursor: [`Page`] and [`Cursor`].
//!
//! A page ends at a cursor, the sort key and row id of its last row; the next page is the rows
//! strictly after that position in the listing's order. Rows added or removed meanwhile never
//! shift a page, as skipping a count of rows would (showing a row twice, or never).

use std::fmt;

/// A position in a listing: the sort key (a Unix time) and the row id of the last row of a page.
/// Its text form is opaque to clients: 32 lowercase hexadecimal digits, the two numbers' 64 bits
/// each. Every such text is a position (one the listing never issued starts a page at the next
/// row after it, like any other), so what the API documents for it is exactly what it takes.
/// A cursor is meaningful only to the listing that issued it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub(crate) key: i64,
    pub(crate) row: i64,
}

impl Cursor {
    /// The length of the text form.
    pub const TEXT_LEN: usize = 32;

    /// Reads the text form; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Self> {
        // `u64::from_str_radix` would also take upper case and a leading `+`.
        if text.len() != Self::TEXT_LEN
            || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return None;
        }
        let half = |part: &str| u64::from_str_radix(part, 16).ok().map(|n| n as i64);
        Some(Self {
            key: half(&text[..16])?,
            row: half(&text[16..])?,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bits of each number, two's complement (`as` reinterprets, it cannot fail).
        write!(f, "{:016x}{:016x}", self.key as u64, self.row as u64)
    }
}

/// One page of a listing: its rows, and where the next page starts if there are more rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page with nothing on it and nothing after it.
    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            next: None,
        }
    }

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
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }

    /// The same page with each row turned into something else, or the first error in doing so.
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
            Cursor { key: -1, row: -1 },
        ] {
            let text = cursor.to_string();
            assert_eq!(text.len(), Cursor::TEXT_LEN, "{text}");
            assert_eq!(Cursor::parse(&text), Some(cursor));
        }
        assert_eq!(
            Cursor::parse("000000006b0cc900000000000000002a"),
            Some(Cursor {
                key: 1_796_000_000,
                row: 42
            })
        );
        for bad in [
            "",
            "0",
            "000000006b0d7d80000000000000002",
            "000000006b0cc900000000000000002a0",
            "000000006B0CC900000000000000002A",
            "+00000006b0d7d80000000000000002a",
            "000000006b0d7d80 00000000000002a",
            "000000006b0d7d8g000000000000002a",
            "1.2",
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
