//! Times as the portal shows them to officers: Swedish wall-clock time with the zone in force.

use utbyte_domain::legal_time;

/// A time as the portal shows it: Swedish wall-clock time to the minute with the zone in force,
/// `2026-12-02 17:05 (CET)` or `2026-06-02 17:05 (CEST)`. Officers work on Swedish time and
/// deadlines and agreements are Swedish dates (`utbyte_domain::legal_time`); the zone makes the
/// hour unambiguous on the night the clocks go back.
pub(crate) fn when(time: time::OffsetDateTime) -> String {
    let swedish = legal_time::swedish_time(time);
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    match swedish.local.format(&format) {
        Ok(shown) => format!("{shown} ({})", swedish.abbreviation()),
        Err(_) => swedish.local.to_string(),
    }
}

/// A time the node sends as RFC 3339 text (ledger records, cosignatures), shown as [`when`]
/// shows it; text that is not RFC 3339 is shown as it came.
pub(crate) fn when_text(text: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339).map_or_else(|_| text.to_owned(), when)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn shows_swedish_time_with_its_zone() {
        assert_eq!(
            when(datetime!(2026-12-02 16:05:42 UTC)),
            "2026-12-02 17:05 (CET)"
        );
        assert_eq!(
            when(datetime!(2026-06-02 15:05 UTC)),
            "2026-06-02 17:05 (CEST)"
        );
        // Late evening UTC is already the next day in Sweden.
        assert_eq!(
            when(datetime!(2026-12-31 23:30 UTC)),
            "2027-01-01 00:30 (CET)"
        );
    }

    #[test]
    fn the_hour_repeated_in_october_is_told_apart() {
        assert_eq!(
            when(datetime!(2026-10-25 00:30 UTC)),
            "2026-10-25 02:30 (CEST)"
        );
        assert_eq!(
            when(datetime!(2026-10-25 01:30 UTC)),
            "2026-10-25 02:30 (CET)"
        );
        assert_eq!(
            when(datetime!(2026-03-29 01:00 UTC)),
            "2026-03-29 03:00 (CEST)"
        );
    }

    #[test]
    fn text_times_are_converted_and_anything_else_kept() {
        assert_eq!(when_text("2026-03-01T23:15:00Z"), "2026-03-02 00:15 (CET)");
        assert_eq!(when_text("not a time"), "not a time");
    }
}
