//! Follow-up charts as inline SVG, drawn on the server: they show without JavaScript, print,
//! and carry a title and description for screen readers; every chart also comes with its
//! numbers as a table on the page. Written by hand because the charts are a few rectangles and
//! labels, and a charting crate would bring a rendering stack for that.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Colours for series, each at least 3:1 against white (WCAG 2.1 non-text contrast).
const PALETTE: [&str; 6] = [
    "#00507a", "#1d6b2f", "#a1111b", "#7a4b00", "#5b3a8e", "#3d3d3d",
];

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn open(out: &mut String, id: &str, width: u32, height: u32, title: &str, description: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-labelledby="{id}-title {id}-desc"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
}

/// Horizontal bars, one per label, longest first as given.
pub fn bars(id: &str, title: &str, rows: &[(String, u64)]) -> String {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let row_height = 26;
    let label_width = 220;
    let bar_width = 300;
    let height = u32::try_from(rows.len()).unwrap_or(0) * row_height + 10;
    let description = rows
        .iter()
        .map(|(label, n)| format!("{label}: {n}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = String::new();
    open(
        &mut out,
        id,
        label_width + bar_width + 60,
        height.max(30),
        title,
        &description,
    );
    for (i, (label, n)) in rows.iter().enumerate() {
        let y = u32::try_from(i).unwrap_or(0) * row_height + 5;
        let w = (u64::from(bar_width) * n / max).max(u64::from(*n > 0));
        let _ = write!(
            out,
            r##"<text x="{x}" y="{ty}" text-anchor="end" font-size="13" fill="#1b1b1b">{label}</text><rect x="{bx}" y="{y}" width="{w}" height="18" fill="{fill}"/><text x="{vx}" y="{ty}" font-size="13" fill="#1b1b1b">{n}</text>"##,
            x = label_width - 8,
            ty = y + 14,
            label = escape(label),
            bx = label_width,
            fill = PALETTE[0],
            vx = u64::from(label_width) + w + 6,
        );
    }
    out.push_str("</svg>");
    out
}

/// Vertical stacked bars per day, one series per key, with a legend.
pub fn stacked(
    id: &str,
    title: &str,
    days: &BTreeMap<String, BTreeMap<String, u64>>,
    series: &[(String, String)],
) -> String {
    // Only the series drawn set the scale.
    let totals: Vec<u64> = days
        .values()
        .map(|d| series.iter().filter_map(|(key, _)| d.get(key)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let plot_height = 180u64;
    let bar = 28u32;
    let gap = 14u32;
    let left = 40u32;
    let n = u32::try_from(days.len()).unwrap_or(0);
    let columns = u32::try_from(series.len().min(3)).unwrap_or(3);
    let width = (left + n * (bar + gap) + 20).max(left + columns * 150 + 20);
    let legend_y = u32::try_from(plot_height).unwrap_or(180) + 50;
    let height = legend_y + 22 * u32::try_from(series.len()).unwrap_or(0).div_ceil(3) + 10;
    let description = days
        .iter()
        .map(|(day, counts)| {
            let parts: Vec<String> = series
                .iter()
                .filter_map(|(key, label)| counts.get(key).map(|c| format!("{label} {c}")))
                .collect();
            format!("{day}: {}", parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let mut out = String::new();
    open(&mut out, id, width, height, title, &description);
    let _ = write!(
        out,
        r##"<line x1="{left}" y1="10" x2="{left}" y2="{b}" stroke="#6b6b6b"/><line x1="{left}" y1="{b}" x2="{width}" y2="{b}" stroke="#6b6b6b"/><text x="{tx}" y="16" text-anchor="end" font-size="12" fill="#1b1b1b">{max}</text><text x="{tx}" y="{b}" text-anchor="end" font-size="12" fill="#1b1b1b">0</text>"##,
        b = plot_height + 10,
        tx = left - 4,
    );
    for (i, (day, counts)) in days.iter().enumerate() {
        let x = left + 8 + u32::try_from(i).unwrap_or(0) * (bar + gap);
        let mut top = plot_height + 10;
        for (s, (key, _)) in series.iter().enumerate() {
            let count = counts.get(key).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let h = (plot_height * count / max).max(1);
            top -= h;
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{top}" width="{bar}" height="{h}" fill="{}"/>"#,
                PALETTE[s % PALETTE.len()]
            );
        }
        let label = day.get(5..).unwrap_or(day);
        let _ = write!(
            out,
            r##"<text x="{cx}" y="{ly}" text-anchor="middle" font-size="12" fill="#1b1b1b">{}</text>"##,
            escape(label),
            cx = x + bar / 2,
            ly = plot_height + 26,
        );
    }
    for (s, (_, label)) in series.iter().enumerate() {
        let col = u32::try_from(s % 3).unwrap_or(0);
        let row = u32::try_from(s / 3).unwrap_or(0);
        let x = left + col * 150;
        let y = legend_y + row * 22;
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{y}" width="14" height="14" fill="{}"/><text x="{tx}" y="{ty}" font-size="13" fill="#1b1b1b">{}</text>"##,
            PALETTE[s % PALETTE.len()],
            escape(label),
            tx = x + 20,
            ty = y + 12,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_escape_labels() {
        let svg = bars(
            "t",
            "Per <offering>",
            &[("a&b".into(), 10), ("c".into(), 5), ("d".into(), 0)],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains("Per &lt;offering&gt;"));
        assert!(svg.contains("a&amp;b"));
        assert!(
            svg.contains(r#"width="300""#),
            "the largest fills the width"
        );
        assert!(
            svg.contains(r#"width="150""#),
            "half the largest, half the width"
        );
        assert!(svg.contains(r#"width="0""#), "zero draws nothing");
        assert!(
            svg.contains("a&amp;b: 10; c: 5; d: 0"),
            "the description carries the numbers"
        );
    }

    #[test]
    fn stacked_bars_sum_per_day_and_keep_series_order() {
        let mut days = BTreeMap::new();
        days.insert(
            "2026-11-23".to_owned(),
            BTreeMap::from([
                ("disclosure".to_owned(), 3),
                ("refusal".to_owned(), 1),
                ("configuration_change".to_owned(), 4),
            ]),
        );
        days.insert(
            "2026-11-24".to_owned(),
            BTreeMap::from([("disclosure".to_owned(), 2)]),
        );
        let series = [
            ("disclosure".to_owned(), "Utlämnande".to_owned()),
            ("refusal".to_owned(), "Avslag".to_owned()),
        ];
        let svg = stacked("d", "Per dag", &days, &series);
        // The busiest day (4, counting only the series drawn) sets the scale: 3 of 4 is 135 of
        // 180 units, 1 of 4 is 45.
        assert!(svg.contains(r#"height="135""#));
        assert!(svg.contains(r#"height="45""#));
        assert!(svg.contains(">11-23<") && svg.contains(">11-24<"));
        assert!(svg.contains("2026-11-23: Utlämnande 3, Avslag 1"));
        assert!(svg.find("Utlämnande</text>") < svg.find("Avslag</text>"));
    }
}
