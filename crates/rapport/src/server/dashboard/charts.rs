//! The overview's and the voice page's charts, drawn on the server as SVG (plotters): no script, nothing fetched.
//! A chart that cannot be drawn is logged and left out; the figures beside it still show.

use plotters::prelude::*;

use crate::domain::Stage;
use crate::domain::funnel::Funnel;
use crate::store::MonthFigures;
use crate::voice::stats::Interval;

/// Months the charts show at most (the latest).
const MONTHS: usize = 24;
const WIDTH: u32 = 720;
const HEIGHT: u32 = 300;
const FUNNEL_HEIGHT: u32 = 200;
const DARK: RGBColor = RGBColor(31, 105, 125);
const LIGHT: RGBColor = RGBColor(150, 196, 206);
const FONT: &str = "sans-serif";

type Drawn = Result<String, Box<dyn std::error::Error>>;

/// How many customers ever reached each stage: a horizontal bar per stage, widest at the top.
pub fn funnel(report: &Funnel) -> String {
    let mut reached: Vec<(Stage, u64)> = Vec::new();
    for step in &report.conversion {
        if reached.is_empty() {
            reached.push((step.from, step.reached_from));
        }
        reached.push((step.to, step.reached_to));
    }
    logged("funnel", draw_funnel(&reached))
}

/// Revenue by month, the latest `MONTHS`.
pub fn revenue(months: &[MonthFigures]) -> String {
    let months = latest(months);
    let revenue = months.iter().map(|m| m.revenue_cents as f64 / 100.0).collect();
    logged("revenue", draw_bars(&labels(months), &[("revenue", DARK, revenue)]))
}

/// New buyers (first purchase in the month) stacked on returning buyers, by month.
pub fn buyers(months: &[MonthFigures]) -> String {
    let months = latest(months);
    let returning = months.iter().map(|m| (m.buyers - m.new_buyers) as f64).collect();
    let new = months.iter().map(|m| m.new_buyers as f64).collect();
    let series = [("returning buyers", DARK, returning), ("new buyers", LIGHT, new)];
    logged("buyers", draw_bars(&labels(months), &series))
}

/// NPS by month with each month's 95 % interval as a bar through its point, from -100 to 100
/// with zero marked: a month of few answers shows as the wide guess it is.
pub fn nps(months: &[(String, Interval)]) -> String {
    let months = &months[months.len().saturating_sub(MONTHS)..];
    logged("nps", draw_nps(months))
}

fn draw_nps(months: &[(String, Interval)]) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = months.len();
        let labels: Vec<String> = months.iter().map(|(m, _)| m.clone()).collect();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..n.max(1) as f64 - 0.5, -100f64..100f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.clamp(1, 8))
            .x_label_formatter(&|x| label_at(&labels, *x))
            .y_labels(5)
            .y_label_formatter(&|y| format!("{y:+.0}"))
            .label_style((FONT, 13))
            .draw()?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
            BLACK.mix(0.4),
        )))?;
        chart.draw_series(months.iter().enumerate().map(|(i, (_, score))| {
            PathElement::new(
                vec![(i as f64, score.low), (i as f64, score.high)],
                LIGHT.stroke_width(6),
            )
        }))?;
        chart.draw_series(LineSeries::new(
            months.iter().enumerate().map(|(i, (_, score))| (i as f64, score.value)),
            DARK.stroke_width(2),
        ))?;
        chart.draw_series(
            months
                .iter()
                .enumerate()
                .map(|(i, (_, score))| Circle::new((i as f64, score.value), 4, DARK.filled())),
        )?;
        root.present()?;
    }
    Ok(svg)
}

fn latest(months: &[MonthFigures]) -> &[MonthFigures] {
    &months[months.len().saturating_sub(MONTHS)..]
}

fn labels(months: &[MonthFigures]) -> Vec<String> {
    months.iter().map(|m| m.month.clone()).collect()
}

fn logged(name: &str, chart: Drawn) -> String {
    chart.unwrap_or_else(|e| {
        tracing::warn!(chart = name, error = %e, "a dashboard chart could not be drawn");
        String::new()
    })
}

fn draw_funnel(reached: &[(Stage, u64)]) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, FUNNEL_HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let widest = reached.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1) as f64;
        let rows = reached.len() as f64;
        // Names sit left of zero, counts right of each bar: no axes needed.
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .build_cartesian_2d(-widest * 0.22..widest * 1.3, 0f64..rows)?;
        let first = reached.first().map_or(0, |(_, n)| *n).max(1) as f64;
        for (i, (stage, n)) in reached.iter().enumerate() {
            let y = rows - 1.0 - i as f64;
            let name = Text::new(stage.to_string(), (-widest * 0.2, y + 0.6), (FONT, 15));
            chart.draw_series(std::iter::once(name))?;
            let value = *n as f64;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.15), (value, y + 0.85)],
                DARK.filled(),
            )))?;
            let label = format!("{} ({:.0} %)", super::format::grouped(*n as i64), value / first * 100.0);
            chart.draw_series(std::iter::once(Text::new(
                label,
                (value + widest * 0.02, y + 0.6),
                (FONT, 14),
            )))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// Vertical bars per label, one or more series stacked in order.
fn draw_bars(labels: &[String], series: &[(&str, RGBColor, Vec<f64>)]) -> Drawn {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = labels.len();
        let totals: Vec<f64> = (0..n).map(|i| series.iter().map(|(_, _, v)| v[i]).sum()).collect();
        let top = totals.iter().copied().fold(0.0, f64::max).max(1.0) * 1.15;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.5f64..n.max(1) as f64 - 0.5, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n.clamp(1, 8))
            .x_label_formatter(&|x| label_at(labels, *x))
            .y_labels(5)
            .y_label_formatter(&|y| short(*y))
            .label_style((FONT, 13))
            .draw()?;
        let mut base = vec![0.0; n];
        for (name, color, values) in series {
            let bars: Vec<_> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let x = i as f64;
                    Rectangle::new([(x - 0.38, base[i]), (x + 0.38, base[i] + v)], color.filled())
                })
                .collect();
            for (b, v) in base.iter_mut().zip(values) {
                *b += v;
            }
            let color = *color;
            chart
                .draw_series(bars)?
                .label(*name)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .label_font((FONT, 13))
                .draw()?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// The label of the bar or point at `x`: one per whole number, none between.
fn label_at(labels: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-9 && i >= 0.0 {
        labels.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// An axis value in few characters: 950, 12k, 3.4M.
fn short(value: f64) -> String {
    match value.abs() {
        v if v >= 1e6 => format!("{:.1}M", value / 1e6),
        v if v >= 1e4 => format!("{:.0}k", value / 1e3),
        v if v >= 1e3 => format!("{:.1}k", value / 1e3),
        _ => format!("{value:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(month: &str, buyers: i64, new_buyers: i64) -> MonthFigures {
        MonthFigures {
            month: month.into(),
            purchases: buyers,
            revenue_cents: buyers * 1_000,
            buyers,
            new_buyers,
        }
    }

    #[test]
    fn charts_are_svg_with_their_labels() {
        let months = [month("2026-01", 10, 4), month("2026-02", 12, 3)];
        for svg in [revenue(&months), buyers(&months)] {
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(svg.contains("viewBox"));
            assert!(svg.contains("2026-02"));
        }
        assert!(buyers(&months).contains("new buyers"));
        let score = |value: f64| Interval {
            value,
            low: value - 20.0,
            high: value + 20.0,
        };
        let chart = nps(&[
            ("2026-01".to_owned(), score(12.0)),
            ("2026-02".to_owned(), score(-30.0)),
        ]);
        assert!(
            chart.starts_with("<svg") && chart.contains("2026-02") && chart.contains("+100"),
            "{chart}"
        );
        let client = crate::domain::funnel::FunnelRow {
            stage: Stage::Client,
            max_stage: Stage::Client,
            first_purchase_day: Some(1),
            second_purchase_day: Some(9),
            last_event_day: Some(9),
        };
        let chart = funnel(&crate::domain::funnel::funnel(&[client]));
        assert!(chart.contains("suspect") && chart.contains("partner"), "{chart}");
    }

    #[test]
    fn axis_values_are_short() {
        assert_eq!(short(950.0), "950");
        assert_eq!(short(1_500.0), "1.5k");
        assert_eq!(short(12_000.0), "12k");
        assert_eq!(short(3_400_000.0), "3.4M");
    }
}
