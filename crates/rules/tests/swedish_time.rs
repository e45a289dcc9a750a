//! A request's day is its Swedish day: `context.date` and the century of a 10-digit
//! personnummer turn at midnight in Stockholm, not in Greenwich.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

mod fixture;

use fixture::request;
use time::macros::datetime;
use utbyte_domain::SubjectId;
use utbyte_rules::RequestError;

fn at(time: time::OffsetDateTime, subject: &str) -> utbyte_rules::DisclosureRequest {
    let mut r = request(&["f1"]);
    r.time = time;
    r.subject.id = subject.into();
    r
}

#[test]
fn context_date_is_the_swedish_day() {
    let date = |time| at(time, "19121212-1212").date();
    // Winter: midnight is 23:00 UTC.
    assert_eq!(date(datetime!(2026-12-31 22:59:59 UTC)), 20261231);
    assert_eq!(date(datetime!(2026-12-31 23:00 UTC)), 20270101);
    // Summer: midnight is 22:00 UTC.
    assert_eq!(date(datetime!(2026-06-30 21:59:59 UTC)), 20260630);
    assert_eq!(date(datetime!(2026-06-30 22:00 UTC)), 20260701);
    // The spring-forward day ends at 22:00 UTC, the fall-back day at 23:00 UTC.
    assert_eq!(date(datetime!(2026-03-29 21:59:59 UTC)), 20260329);
    assert_eq!(date(datetime!(2026-03-29 22:00 UTC)), 20260330);
    assert_eq!(date(datetime!(2026-10-25 22:59:59 UTC)), 20261025);
    assert_eq!(date(datetime!(2026-10-25 23:00 UTC)), 20261026);
    // The offset the request was written with does not matter, only the instant.
    assert_eq!(date(datetime!(2027-01-01 03:00 +05:00)), 20261231);
}

#[test]
fn a_hundredth_birthday_is_reached_at_swedish_midnight() {
    // 00:30 on 1 January 2027 in Sweden, still 31 December in UTC.
    let r = at(datetime!(2026-12-31 23:30 UTC), "270101+2391");
    match r.validate().unwrap() {
        SubjectId::Personnummer(p) => assert_eq!(p.as_str(), "19270101-2391"),
        other => panic!("not a personnummer: {other:?}"),
    }
    // The `-` form the same minute is someone born that day, not someone aged 99.
    let r = at(datetime!(2026-12-31 23:30 UTC), "270101-2383");
    match r.validate().unwrap() {
        SubjectId::Personnummer(p) => assert_eq!(p.as_str(), "20270101-2383"),
        other => panic!("not a personnummer: {other:?}"),
    }
}

#[test]
fn someone_born_today_in_sweden_exists_though_utc_is_still_yesterday() {
    let born = "20270101-2383";
    assert!(at(datetime!(2026-12-31 23:00 UTC), born).validate().is_ok());
    assert_eq!(
        at(datetime!(2026-12-31 22:59:59 UTC), born).validate(),
        Err(RequestError::SubjectNotYetBorn)
    );
    // 03:00 at +05:00 on 1 January is 23:00 on 31 December in Sweden: not yet born.
    assert_eq!(
        at(datetime!(2027-01-01 03:00 +05:00), born).validate(),
        Err(RequestError::SubjectNotYetBorn)
    );
}
