//! What the subscription benchmarks share: synthetic subjects, a repeatable draw, percentiles,
//! and the baseline — NATS JetStream with a file-backed stream and a durable consumer that
//! acknowledges each event.

#![allow(dead_code)] // each benchmark uses its own part

use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use serde_json::json;
use time::OffsetDateTime;
use utbyte_domain::SubjectId;

pub const NATS: &str = "127.0.0.1:4222";
/// Events per JetStream publishing round (their acknowledgements awaited together).
const PUBLISH_BATCH: usize = 500;

/// A distinct valid personnummer per `n`: born from 1 January 1950 on, 900 a day.
pub fn person(n: usize) -> SubjectId {
    let day = time::Date::from_calendar_date(1950, time::Month::January, 1).unwrap()
        + time::Duration::days((n / 900) as i64);
    let born =
        utbyte_domain::CalendarDate::new(day.year() as u16, u8::from(day.month()), day.day())
            .unwrap();
    SubjectId::Personnummer(
        utbyte_domain::Personnummer::from_parts(born, (100 + n % 900) as u16).unwrap(),
    )
}

/// A cheap deterministic sequence (xorshift64), so every run writes the same changes.
pub struct Draw(pub u64);

impl Draw {
    pub fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// What a run measured.
pub struct Run {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub notices: u64,
}

/// JetStream: `events` published and consumed with explicit acknowledgements.
pub async fn jetstream(events: usize, rate: Option<usize>) -> Run {
    let client = async_nats::connect(NATS)
        .await
        .unwrap_or_else(|e| panic!("NATS with JetStream must run at {NATS}: {e}"));
    let js = jetstream::new(client);
    let name = format!("UTBYTE_BENCH_{}", std::process::id());
    let _ = js.delete_stream(&name).await;
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{}.>", name.to_lowercase())],
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("matcher".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let subject = format!("{}.changes", name.to_lowercase());
    let started = Instant::now();
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
            let mut done = 0;
            while done < events {
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(done as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                }
                let count = PUBLISH_BATCH.min(events - done);
                let mut acks = Vec::with_capacity(count);
                for _ in 0..count {
                    // What a change carries: offering, subject, fields, time.
                    let payload = json!({
                        "offering": "skv-folkbokforing",
                        "subject": person(draw.next(2_000_000)).as_str(),
                        "fields": ["flyttdatum"],
                        "at": OffsetDateTime::now_utc().unix_timestamp_nanos() as u64,
                    });
                    acks.push(
                        js.publish(subject.clone(), payload.to_string().into())
                            .await
                            .unwrap(),
                    );
                }
                for ack in acks {
                    ack.await.unwrap();
                }
                done += count;
            }
        })
    };
    let mut messages = consumer.messages().await.unwrap();
    let mut latencies = Vec::with_capacity(events);
    while latencies.len() < events {
        let message = match messages.next().await.expect("the consumer's stream ended") {
            Ok(message) => message,
            // A heartbeat missed while the machine is busy is reported and the stream goes on;
            // the durable consumer redelivers whatever was not acknowledged.
            Err(error)
                if error.kind()
                    == jetstream::consumer::pull::MessagesErrorKind::MissingHeartbeat =>
            {
                continue;
            }
            Err(error) => panic!("JetStream consumer: {error}"),
        };
        let body: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        let at = body["at"].as_u64().unwrap() as i128;
        let now = OffsetDateTime::now_utc().unix_timestamp_nanos();
        latencies.push((now - at) as f64 / 1e6);
        message.ack().await.unwrap();
    }
    publisher.await.unwrap();
    let took = started.elapsed().as_secs_f64();
    js.delete_stream(&name).await.unwrap();
    latencies.sort_by(f64::total_cmp);
    Run {
        per_second: events as f64 / took,
        p50_ms: percentile(&latencies, 0.5),
        p99_ms: percentile(&latencies, 0.99),
        notices: events as u64,
    }
}
