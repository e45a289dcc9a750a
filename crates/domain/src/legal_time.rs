//! Swedish legal time: which day, and which wall-clock time, an instant is in Sweden.
//!
//! Timestamps in utbyte are instants (`time::OffsetDateTime`, stored and sent in UTC). But every
//! date with legal meaning is a Swedish calendar date: a pre-assessment (förhandsbedömning) valid
//! "through 2026-12-31" or a joint operation (SFS 2016:774) ending on a date is agreed between
//! Swedish authorities under Swedish law, whose days begin at midnight in Sweden (lag (1979:988)
//! om normaltid and the EU summer-time directive 2000/84/EC give the time in force: CET, UTC+1,
//! and CEST, UTC+2, from the last Sunday of March to the last Sunday of October). Judged on the
//! UTC calendar, an expired agreement would keep disclosing for one hour (winter) or two (summer)
//! into the next Swedish day, and one starting today would not be honoured before 01:00/02:00.
//! The age of a person (the `+` in a 10-digit personnummer) also turns at Swedish midnight, and
//! follow-up statistics count the days the officers worked.
//!
//! This module is the one boundary between instants and Swedish dates: [`swedish_date`] for the
//! calendar, [`swedish_time`] for what an officer reads on a screen. The offset comes from the
//! IANA time-zone database's `Europe/Stockholm`, bundled into the binary (jiff's
//! `tzdb-bundle-always`), so a node neither reads the host's `/usr/share/zoneinfo` nor depends on
//! the host's `TZ`: every node of the federation decides on the same calendar. The conversion
//! never reads the clock; the caller gives the instant.

use std::sync::OnceLock;

use jiff::tz::{TimeZone, TimeZoneDatabase};
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::{CalendarDate, IdentifierError};

/// The IANA name of Swedish time.
pub const ZONE: &str = "Europe/Stockholm";

/// Swedish standard time (normaltid), UTC+1.
const STANDARD: i32 = 3600;
/// Swedish summer time (sommartid), UTC+2.
const SUMMER: i32 = 7200;

/// An instant as a clock in Sweden shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwedishTime {
    /// The wall-clock date and time in Sweden.
    pub local: PrimitiveDateTime,
    /// The offset from UTC in force at that instant: +01:00 or +02:00.
    pub offset: UtcOffset,
}

impl SwedishTime {
    /// Whether summer time (CEST) is in force, rather than standard time (CET).
    pub fn is_summer_time(&self) -> bool {
        self.offset.whole_seconds() != STANDARD
    }

    /// The zone's abbreviation as officers know it: `CET` or `CEST`.
    pub fn abbreviation(&self) -> &'static str {
        if self.is_summer_time() {
            "CEST"
        } else {
            "CET"
        }
    }

    /// The instant with its Swedish offset (for RFC 3339 output).
    pub fn instant(&self) -> OffsetDateTime {
        self.local.assume_offset(self.offset)
    }
}

/// The bundled `Europe/Stockholm`, looked up once. The bundled database explicitly, not jiff's
/// default one, which would prefer the host's zoneinfo when another crate enables that.
fn stockholm() -> Option<&'static TimeZone> {
    static ZONE_DATA: OnceLock<Option<TimeZone>> = OnceLock::new();
    ZONE_DATA
        .get_or_init(|| TimeZoneDatabase::bundled().get(ZONE).ok())
        .as_ref()
}

/// The offset from UTC in force in Sweden at `instant`.
///
/// It is always standard or summer time. Outside what the time-zone database can represent
/// (before year −9999 or after 9999, which a request can carry but no agreement can cover) it is
/// standard time; so it would be if the bundled database lacked the zone, which a unit test rules
/// out. Before 1970 the database's `Europe/Stockholm` keeps another zone's history, with offsets
/// Sweden never used (local mean time, +00:53:28, before 1893; +03:00 in the summers of 1945 and
/// 1947): those are read as standard time too.
pub fn swedish_offset(instant: OffsetDateTime) -> UtcOffset {
    let seconds = stockholm()
        .zip(jiff::Timestamp::from_second(instant.unix_timestamp()).ok())
        .map(|(zone, timestamp)| zone.to_offset(timestamp).seconds())
        .filter(|seconds| *seconds == SUMMER)
        .unwrap_or(STANDARD);
    UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
}

/// What a clock in Sweden shows at `instant`.
///
/// An instant so close to the edge of the representable range that its Swedish wall-clock time
/// would fall outside it keeps the wall-clock time it was given with; it never panics.
pub fn swedish_time(instant: OffsetDateTime) -> SwedishTime {
    let offset = swedish_offset(instant);
    let shown = instant.checked_to_offset(offset).unwrap_or(instant);
    SwedishTime {
        local: PrimitiveDateTime::new(shown.date(), shown.time()),
        offset: shown.offset(),
    }
}

/// The Swedish calendar date at `instant`: the day every validity period, operation date and
/// follow-up day is judged on.
pub fn swedish_date(instant: OffsetDateTime) -> Date {
    swedish_time(instant).local.date()
}

/// The Swedish date at `instant` as the reference date against which a 10-digit personnummer's
/// century is resolved (someone turns 100 at Swedish midnight). A date before year 0000 is read
/// as 0000-01-01, the earliest an identifier can be read against; the result is then always a
/// valid date, the `Result` only carries [`CalendarDate::new`]'s checks.
pub fn swedish_reference_date(instant: OffsetDateTime) -> Result<CalendarDate, IdentifierError> {
    let date = swedish_date(instant);
    match u16::try_from(date.year()) {
        Ok(year) => CalendarDate::new(year, u8::from(date.month()), date.day()),
        Err(_) => CalendarDate::new(0, 1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_zone_is_bundled() {
        assert!(
            stockholm().is_some(),
            "{ZONE} missing from the bundled tzdb"
        );
    }

    #[test]
    fn midnight_in_winter_is_23_utc() {
        assert_eq!(
            swedish_date(datetime!(2026-01-14 22:59:59 UTC)),
            date!(2026 - 01 - 14)
        );
        assert_eq!(
            swedish_date(datetime!(2026-01-14 23:00:00 UTC)),
            date!(2026 - 01 - 15)
        );
    }

    #[test]
    fn midnight_in_summer_is_22_utc() {
        assert_eq!(
            swedish_date(datetime!(2026-06-30 21:59:59 UTC)),
            date!(2026 - 06 - 30)
        );
        assert_eq!(
            swedish_date(datetime!(2026-06-30 22:00:00 UTC)),
            date!(2026 - 07 - 01)
        );
    }

    #[test]
    fn the_given_offset_does_not_matter_only_the_instant() {
        // 23:30 in New York on 31 December is 05:30 on 1 January in Sweden.
        assert_eq!(
            swedish_date(datetime!(2026-12-31 23:30 -05:00)),
            date!(2027 - 01 - 01)
        );
        // 00:30 in Tokyo on 1 January is still 31 December in Sweden.
        assert_eq!(
            swedish_date(datetime!(2027-01-01 00:30 +09:00)),
            date!(2026 - 12 - 31)
        );
    }

    #[test]
    fn spring_forward_on_the_last_sunday_of_march() {
        // 2026-03-29: clocks go from 02:00 CET straight to 03:00 CEST at 01:00 UTC.
        let before = swedish_time(datetime!(2026-03-29 00:59:59 UTC));
        assert_eq!(before.local, datetime!(2026-03-29 01:59:59));
        assert_eq!(before.abbreviation(), "CET");
        let after = swedish_time(datetime!(2026-03-29 01:00:00 UTC));
        assert_eq!(after.local, datetime!(2026-03-29 03:00:00));
        assert_eq!(after.abbreviation(), "CEST");
        assert_eq!(after.instant(), datetime!(2026-03-29 03:00 +02:00));
        // The day before is still standard time at its end.
        assert_eq!(
            swedish_date(datetime!(2026-03-28 23:00:00 UTC)),
            date!(2026 - 03 - 29)
        );
    }

    #[test]
    fn fall_back_on_the_last_sunday_of_october() {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00 UTC; 02:30 happens twice.
        let first = swedish_time(datetime!(2026-10-25 00:30:00 UTC));
        assert_eq!(first.local, datetime!(2026-10-25 02:30:00));
        assert_eq!(first.abbreviation(), "CEST");
        let second = swedish_time(datetime!(2026-10-25 01:30:00 UTC));
        assert_eq!(second.local, datetime!(2026-10-25 02:30:00));
        assert_eq!(second.abbreviation(), "CET");
        // Midnight before the change is 22:00 UTC (summer), the midnight after it 23:00 UTC.
        assert_eq!(
            swedish_date(datetime!(2026-10-24 22:00:00 UTC)),
            date!(2026 - 10 - 25)
        );
        assert_eq!(
            swedish_date(datetime!(2026-10-25 22:59:59 UTC)),
            date!(2026 - 10 - 25)
        );
        assert_eq!(
            swedish_date(datetime!(2026-10-25 23:00:00 UTC)),
            date!(2026 - 10 - 26)
        );
    }

    #[test]
    fn reference_date_is_swedish() {
        // 23:30 UTC on 14 March is already 15 March in Sweden.
        let reference = swedish_reference_date(datetime!(2026-03-14 23:30 UTC));
        assert_eq!(reference, CalendarDate::new(2026, 3, 15));
    }

    #[test]
    fn only_standard_or_summer_time_even_where_the_database_knows_older_times() {
        // The bundled database's Europe/Stockholm keeps, before 1970, another zone's history:
        // local mean time (+00:53:28) before 1893 and a +03:00 midsummer time in 1945. Neither
        // was ever Swedish time; a record or request dated then is read in standard time.
        for instant in [
            datetime!(1889-11-23 16:05:25 UTC),
            datetime!(1945-07-01 12:00 UTC),
            datetime!(0001-01-01 00:00 UTC),
        ] {
            assert_eq!(
                swedish_offset(instant),
                UtcOffset::from_whole_seconds(STANDARD).unwrap_or(UtcOffset::UTC),
                "{instant}"
            );
            let shown = swedish_time(instant);
            assert!(!shown.is_summer_time(), "{instant}");
            assert_eq!(shown.abbreviation(), "CET");
            assert_eq!(shown.instant(), instant);
        }
        assert_eq!(
            swedish_date(datetime!(1889-11-23 23:30 UTC)),
            date!(1889 - 11 - 24)
        );
    }

    #[test]
    fn extreme_instants_never_panic() {
        for instant in [
            OffsetDateTime::new_utc(Date::MIN, time::Time::MIDNIGHT),
            OffsetDateTime::new_utc(Date::MAX, time::Time::MAX),
            Date::MAX
                .with_time(time::Time::MAX)
                .assume_offset(UtcOffset::from_hms(-25, 59, 59).unwrap_or(UtcOffset::UTC)),
            Date::MIN
                .midnight()
                .assume_offset(UtcOffset::from_hms(25, 59, 59).unwrap_or(UtcOffset::UTC)),
        ] {
            let _ = swedish_time(instant);
            assert!(swedish_reference_date(instant).is_ok(), "{instant}");
        }
        assert!(
            swedish_reference_date(OffsetDateTime::new_utc(Date::MAX, time::Time::MIDNIGHT))
                .is_ok()
        );
    }
}
