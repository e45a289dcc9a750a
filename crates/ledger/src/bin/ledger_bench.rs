//! Benchmark of the ledger, against the anchors of the audit-ledger issue.
//!
//! Run: `cargo run --release -p utbyte-ledger --bin ledger-bench [-- --seconds 3]`
//!
//! 1. Durable appends per second and acknowledgement latency with 1, 8 and 64 concurrent
//!    appenders, on a fresh ledger in a temporary directory (same disk as the system temp dir;
//!    every acknowledged append is fsync-durable). Anchor: Tessera's published ~600 durable
//!    appends/s on 2 vCPUs; goals: ≥ 20 000/s and p99 ≤ 20 ms with 64 appenders.
//! 2. At 10 million entries (tree held in memory as tiles, hashes only): inclusion proof size
//!    (goal ≤ 800 bytes) and the time to verify the checkpoint signature plus the proof (goal
//!    ≤ 100 µs).
//!
//! In the table, `ratio` is value/anchor for rates and anchor/value for sizes and times, so a
//! ratio of at least 1 always means the anchor or goal is met.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use utbyte_ledger::note::{random_seed, SignerKey, ALG_ED25519};
use utbyte_ledger::tiles::{TileBuilder, TileFetch, TileHashes};
use utbyte_ledger::tree::{self, CompactRange};
use utbyte_ledger::{
    leaf_hash, open_checkpoint, Checkpoint, Hash, Ledger, LedgerError, LedgerOptions,
};

const TESSERA_2VCPU: f64 = 600.0;

struct Row {
    figure: String,
    value: f64,
    unit: &'static str,
    /// The anchor value and what it is; `None` for figures reported without one.
    anchor: Option<(f64, &'static str)>,
    higher_is_better: bool,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    let mut rows = Vec::new();
    for appenders in [1usize, 8, 64] {
        let (rate, p50, p99) = append_run(appenders, Duration::from_secs_f64(seconds))?;
        eprintln!(
            "{appenders:>2} appenders: {rate:.0} appends/s, p50 {p50:.2} ms, p99 {p99:.2} ms"
        );
        rows.push(Row {
            figure: format!("durable appends/s, {appenders} appender(s)"),
            value: rate,
            unit: "/s",
            anchor: Some((TESSERA_2VCPU, "Tessera, 2 vCPU")),
            higher_is_better: true,
        });
        rows.push(Row {
            figure: format!("ack latency p50, {appenders} appender(s)"),
            value: p50,
            unit: "ms",
            anchor: None,
            higher_is_better: false,
        });
        rows.push(Row {
            figure: format!("ack latency p99, {appenders} appender(s)"),
            value: p99,
            unit: "ms",
            anchor: (appenders == 64).then_some((20.0, "goal")),
            higher_is_better: false,
        });
        if appenders == 64 {
            rows.push(Row {
                figure: "durable appends/s, 64 appenders".into(),
                value: rate,
                unit: "/s",
                anchor: Some((20_000.0, "goal")),
                higher_is_better: true,
            });
        }
    }
    rows.extend(ten_million()?);
    print_table(&rows);
    Ok(())
}

/// Runs `appenders` threads appending ~400-byte entries for `duration`.
fn append_run(
    appenders: usize,
    duration: Duration,
) -> Result<(f64, f64, f64), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!(
        "utbyte-ledger-bench-{}-{appenders}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let ledger = Arc::new(Ledger::create(
        &dir,
        "bench.utbyte.invalid/log",
        LedgerOptions::default(),
    )?);
    let start = Instant::now();
    let deadline = start + duration;
    let workers: Vec<_> = (0..appenders)
        .map(|t| {
            let ledger = ledger.clone();
            std::thread::spawn(move || -> Result<Vec<u32>, LedgerError> {
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let entry = format!(
                        "{{\"appender\":{t},\"seq\":{i},\"pad\":\"{}\"}}",
                        "p".repeat(360)
                    );
                    let began = Instant::now();
                    ledger.append(entry.as_bytes())?;
                    latencies.push(began.elapsed().as_micros() as u32);
                    i += 1;
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().map_err(|_| "appender thread panicked")??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    if let Ok(ledger) = Arc::try_unwrap(ledger) {
        ledger.close()?;
    }
    std::fs::remove_dir_all(&dir)?;
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |v| *v as f64 / 1000.0)
    };
    Ok((all.len() as f64 / elapsed, pct(0.50), pct(0.99)))
}

/// Full tiles of a large tree held in memory, with the rightmost partial ones.
struct MemTiles {
    full: HashMap<(u32, u64), Arc<Vec<Hash>>>,
    builder: TileBuilder,
}

impl TileFetch for MemTiles {
    fn tile(&self, level: u32, index: u64, width: usize) -> Result<Arc<Vec<Hash>>, LedgerError> {
        if let Some(h) = self
            .builder
            .partial(level, index)
            .filter(|h| h.len() >= width)
        {
            return Ok(Arc::new(h[..width].to_vec()));
        }
        let tile = self
            .full
            .get(&(level, index))
            .ok_or_else(|| LedgerError::Tile {
                path: format!("{level}/{index}"),
                detail: "missing".into(),
            })?;
        Ok(if width == tile.len() {
            tile.clone()
        } else {
            Arc::new(tile[..width].to_vec())
        })
    }
}

fn ten_million() -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    const N: u64 = 10_000_000;
    let built = Instant::now();
    let mut tiles = MemTiles {
        full: HashMap::new(),
        builder: TileBuilder::default(),
    };
    let mut range = CompactRange::new();
    for i in 0..N {
        let leaf = leaf_hash(&i.to_be_bytes());
        range.push(leaf);
        for full in tiles.builder.push(leaf) {
            tiles
                .full
                .insert((full.level, full.index), Arc::new(full.hashes));
        }
    }
    eprintln!(
        "built a {N}-entry tree in {:.1} s",
        built.elapsed().as_secs_f64()
    );
    let signer = SignerKey::from_seed("bench.utbyte.invalid/log", ALG_ED25519, random_seed()?)?;
    let checkpoint = Checkpoint {
        origin: "bench.utbyte.invalid/log".into(),
        size: N,
        root: range.root(),
        extensions: Vec::new(),
    };
    let note_text = checkpoint.sign(&signer)?.to_string();
    let source = TileHashes::new(&tiles, N);

    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let samples = 2000;
    let mut max_bytes = 0;
    let mut gen = Vec::with_capacity(samples);
    let mut verify = Vec::with_capacity(samples);
    for _ in 0..samples {
        let index = next() % N;
        let t = Instant::now();
        let proof = tree::inclusion_proof(&source, index, N)?;
        gen.push(t.elapsed().as_secs_f64() * 1e6);
        max_bytes = max_bytes.max(proof.byte_len());
        let leaf = leaf_hash(&index.to_be_bytes());
        let t = Instant::now();
        let (cp, _) = open_checkpoint(&note_text, &signer.verifier)?;
        proof.verify(&leaf, &cp.root)?;
        verify.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let old = next() % N;
    let consistency = tree::consistency_proof(&source, old, N)?;
    verify.sort_by(f64::total_cmp);
    gen.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    let p99 = |v: &[f64]| v[v.len() * 99 / 100];
    Ok(vec![
        Row {
            figure: "inclusion proof at 10M entries (max)".into(),
            value: max_bytes as f64,
            unit: "bytes",
            anchor: Some((800.0, "goal")),
            higher_is_better: false,
        },
        Row {
            figure: "checkpoint signature + proof verify, median".into(),
            value: median(&verify),
            unit: "µs",
            anchor: Some((100.0, "goal")),
            higher_is_better: false,
        },
        Row {
            figure: "checkpoint signature + proof verify, p99".into(),
            value: p99(&verify),
            unit: "µs",
            anchor: Some((100.0, "goal")),
            higher_is_better: false,
        },
        Row {
            figure: "inclusion proof generation from tiles, median".into(),
            value: median(&gen),
            unit: "µs",
            anchor: None,
            higher_is_better: false,
        },
        Row {
            figure: format!("consistency proof {old}→10M"),
            value: consistency.hashes.len() as f64 * 32.0,
            unit: "bytes",
            anchor: None,
            higher_is_better: false,
        },
    ])
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| figure | value | anchor | ratio |");
    println!("|---|---|---|---|");
    for r in rows {
        let value = if r.value >= 100.0 {
            format!("{:.0} {}", r.value, r.unit)
        } else {
            format!("{:.2} {}", r.value, r.unit)
        };
        let (anchor, ratio) = match r.anchor {
            Some((a, label)) => {
                let ratio = if r.higher_is_better {
                    r.value / a
                } else {
                    a / r.value.max(f64::MIN_POSITIVE)
                };
                (format!("{a} {} ({label})", r.unit), format!("{ratio:.2}"))
            }
            None => ("—".to_owned(), "—".to_owned()),
        };
        println!("| {} | {value} | {anchor} | {ratio} |", r.figure);
    }
}
