//! SVG charts for `rapport analyze --plot DIR`: how well the model predicted a holdout period,
//! and the P(alive) matrix that shows how repeat purchases and recency drive the score.
//!
//! Charts are rendered into a string and written in one call, so a failed write leaves no
//! half-drawn file and its error names the path.

use std::error::Error;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use rapport_models::{CustomerModel, History, HoldoutGroup, HoldoutReport, TimeUnit};

/// Why a chart could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The chart could not be drawn, or its inputs cannot make a chart.
    #[error("cannot draw chart {}: {reason}", path.display())]
    Draw {
        /// The chart file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The chart file could not be written.
    #[error("cannot write chart {}: {source}", path.display())]
    Write {
        /// The chart file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The directory for the charts could not be created.
    #[error("cannot create chart directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// Writes `p_alive.svg` and, when a holdout report is given, `holdout.svg` into `dir`, creating it.
pub fn write_all(
    dir: &Path,
    model: &(impl CustomerModel + ?Sized),
    holdout: Option<&HoldoutReport>,
    max_frequency: u32,
    age: f64,
    unit: TimeUnit,
) -> Result<Vec<PathBuf>, PlotError> {
    fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let unit_name = unit.name(2);
    let mut written = Vec::new();
    if let Some(report) = holdout {
        let path = dir.join("holdout.svg");
        holdout_chart(report, unit_name, &path)?;
        written.push(path);
    }
    let path = dir.join("p_alive.svg");
    p_alive_matrix(model, max_frequency, age, unit_name, &path)?;
    written.push(path);
    Ok(written)
}

/// Draws mean actual and predicted holdout repeat purchases per calibration frequency group.
pub fn holdout_chart(report: &HoldoutReport, unit_name: &str, path: &Path) -> Result<(), PlotError> {
    // Empty groups have means of 0 that were never observed; plotting them would look like a fit.
    let groups: Vec<_> = report.groups.iter().filter(|g| g.customers > 0).collect();
    let top = report.groups.last().map_or(0, |g| g.frequency);
    let open_top = report.groups.last().is_some_and(|g| g.or_more);
    let highest = groups.iter().map(|g| g.actual.max(g.predicted)).fold(0.0, f64::max);
    let y_max = (highest * 1.15).max(0.1);
    let title = format!(
        "Holdout: actual vs predicted repeat purchases over {} {unit_name}",
        number(report.holdout_length)
    );
    render(path, (960, 600), |root| {
        let area = root.titled(&title, ("sans-serif", 26))?;
        // A segmented `a..b` has one segment per value in a..=b, so `0..top` ends at the top group.
        let mut chart = ChartBuilder::on(&area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d((0..top).into_segmented(), 0.0..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_max_light_lines(1)
            .x_labels((top as usize + 1).min(MAX_LABELS))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(f) if *f == top && open_top => format!("{f}+"),
                SegmentValue::CenterOf(f) => f.to_string(),
                _ => String::new(),
            })
            .x_desc("repeat purchases in calibration")
            .y_desc("mean repeat purchases in holdout")
            .axis_desc_style(("sans-serif", 18))
            .label_style(("sans-serif", 15))
            .draw()?;
        let points = |value: fn(&HoldoutGroup) -> f64| -> Vec<_> {
            groups
                .iter()
                .map(|g| (SegmentValue::CenterOf(g.frequency), value(g)))
                .collect()
        };
        let series = [
            ("actual", BLUE.mix(0.9), points(|g| g.actual)),
            ("predicted", RED.mix(0.9), points(|g| g.predicted)),
        ];
        for (name, colour, points) in series {
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(3)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], colour.stroke_width(3)));
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, 5, colour.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    })
}

/// Draws a heat map of P(alive) by repeat purchases (rows) and recency (columns) at one age.
pub fn p_alive_matrix(
    model: &(impl CustomerModel + ?Sized),
    max_frequency: u32,
    age: f64,
    unit_name: &str,
    path: &Path,
) -> Result<(), PlotError> {
    if !(age.is_finite() && age > 0.0) {
        let reason = format!("customer age must be a positive number of {unit_name}, got {age}");
        return Err(PlotError::Draw {
            path: path.to_owned(),
            reason,
        });
    }
    let recencies = recency_grid(age);
    let half = age / (recencies.len() - 1) as f64 / 2.0;
    let title = format!(
        "P(alive) of customers {} {unit_name} after their first purchase",
        number(age)
    );
    render(path, (1000, 620), |root| {
        let area = root.titled(&title, ("sans-serif", 26))?;
        let (matrix_area, bar_area) = area.split_horizontally(880);
        let mut chart = ChartBuilder::on(&matrix_area)
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(70)
            .build_cartesian_2d(-half..age + half, (0..max_frequency).into_segmented())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_label_formatter(&|x| number(*x))
            .y_labels((max_frequency as usize + 1).min(MAX_LABELS))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(f) => f.to_string(),
                _ => String::new(),
            })
            .x_desc(format!("recency ({unit_name} since first purchase to last)"))
            .y_desc("repeat purchases")
            .axis_desc_style(("sans-serif", 18))
            .label_style(("sans-serif", 15))
            .draw()?;
        let cells = (0..=max_frequency).flat_map(|frequency| {
            recencies.iter().map(move |&recency| {
                // Without a repeat purchase recency is 0 by definition, whatever the column says.
                let history = History {
                    frequency,
                    recency: if frequency == 0 { 0.0 } else { recency },
                    age,
                };
                let corners = [
                    (recency - half, SegmentValue::Exact(frequency)),
                    (recency + half, SegmentValue::Exact(frequency + 1)),
                ];
                Rectangle::new(corners, p_alive_colour(model.p_alive(&history)).filled())
            })
        });
        chart.draw_series(cells)?;
        colour_bar(&bar_area)
    })
}

/// A drawing step whose plotters errors are turned into a [`PlotError`] by [`render`].
type DrawResult = Result<(), Box<dyn Error>>;

/// Steps of the colour bar: enough that neighbouring bands are indistinguishable.
const COLOUR_BAR_STEPS: u32 = 50;

/// Most labels on a category axis: every group while they fit, a nice subset beyond.
const MAX_LABELS: usize = 20;

/// Most recency columns drawn; daily data spans hundreds of days, far more than cells can show.
const MAX_COLUMNS: usize = 60;

/// Renders a chart into memory, then writes it in one call.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
) -> Result<(), PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = root.fill(&WHITE).map_err(Into::into).and_then(|()| draw(&root));
        drawn.and_then(|()| Ok(root.present()?)).map_err(|e| PlotError::Draw {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    }
    fs::write(path, svg).map_err(|source| PlotError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Evenly spaced recencies from 0 to `age` inclusive, one per whole unit while that fits.
fn recency_grid(age: f64) -> Vec<f64> {
    let columns = (age.ceil() as usize + 1).clamp(2, MAX_COLUMNS);
    (0..columns).map(|i| age * i as f64 / (columns - 1) as f64).collect()
}

/// Red at 0 through yellow to green at 1; a hue sweep avoids the muddy brown of mixing red and green.
fn p_alive_colour(p: f64) -> HSLColor {
    HSLColor(p.clamp(0.0, 1.0) / 3.0, 0.75, 0.45)
}

/// The vertical scale that reads colours back as probabilities.
fn colour_bar(area: &DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult {
    let mut bar = ChartBuilder::on(area)
        .margin(20)
        .margin_left(0)
        .x_label_area_size(60)
        .set_label_area_size(LabelAreaPosition::Right, 70)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_desc("P(alive)")
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 15))
        .draw()?;
    let step = 1.0 / f64::from(COLOUR_BAR_STEPS);
    bar.draw_series((0..COLOUR_BAR_STEPS).map(|i| {
        let low = f64::from(i) * step;
        Rectangle::new(
            [(0.0, low), (1.0, low + step)],
            p_alive_colour(low + step / 2.0).filled(),
        )
    }))?;
    Ok(())
}

/// A number as a person would write it: whole numbers without a decimal point.
fn number(x: f64) -> String {
    // Display prints 39.0 as "39", so rounding to one decimal is all it takes.
    ((x * 10.0).round() / 10.0).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_models::BgNbdParams;

    fn cdnow_model() -> BgNbdParams {
        BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        }
    }

    fn small_report() -> HoldoutReport {
        let group = |frequency, customers, actual, predicted| HoldoutGroup {
            frequency,
            or_more: frequency == 3,
            customers,
            actual,
            predicted,
        };
        HoldoutReport {
            holdout_length: 39.0,
            groups: vec![
                group(0, 50, 0.2, 0.25),
                group(1, 20, 0.9, 0.8),
                group(2, 0, 0.0, 0.0),
                group(3, 8, 3.1, 2.7),
            ],
            actual_total: 46.8,
            predicted_total: 50.1,
            mean_absolute_error: 0.4,
        }
    }

    /// The file, checked to look like SVG.
    fn read_svg(path: &Path) -> String {
        let svg = fs::read_to_string(path).unwrap();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "not an SVG: {svg:.40}"
        );
        svg
    }

    /// The contents of the `<text>` elements; plotters puts each on its own line.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim()))
            .collect()
    }

    #[test]
    fn holdout_chart_has_a_title_axis_labels_a_legend_and_an_open_top_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("holdout.svg");

        holdout_chart(&small_report(), "weeks", &path).unwrap();

        let svg = read_svg(&path);
        let texts = texts(&svg);
        for text in [
            "Holdout: actual vs predicted repeat purchases over 39 weeks",
            "repeat purchases in calibration",
            "mean repeat purchases in holdout",
            "actual",
            "predicted",
            "3+",
        ] {
            assert!(texts.contains(&text), "missing {text:?} in {texts:?}");
        }
        // Two series over the three groups that have customers: the empty group gets no marker.
        assert_eq!(svg.matches("<circle").count(), 6);
    }

    #[test]
    fn p_alive_matrix_draws_one_cell_per_frequency_and_recency_plus_the_colour_bar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p_alive.svg");

        p_alive_matrix(&cdnow_model(), 5, 10.0, "weeks", &path).unwrap();

        let svg = read_svg(&path);
        let texts = texts(&svg);
        for text in [
            "recency (weeks since first purchase to last)",
            "repeat purchases",
            "P(alive)",
        ] {
            assert!(texts.contains(&text), "missing {text:?} in {texts:?}");
        }
        // 6 frequencies by 11 recencies, the colour bar's bands, and the white background.
        assert_eq!(svg.matches("<rect").count(), 6 * 11 + COLOUR_BAR_STEPS as usize + 1);
    }

    #[test]
    fn p_alive_matrix_rejects_a_non_positive_age_naming_the_file() {
        let error = p_alive_matrix(&cdnow_model(), 3, 0.0, "weeks", Path::new("out/p.svg")).unwrap_err();

        assert_eq!(
            error.to_string(),
            "cannot draw chart out/p.svg: customer age must be a positive number of weeks, got 0"
        );
    }

    #[test]
    fn write_all_creates_the_directory_and_skips_the_holdout_chart_without_a_report() {
        let dir = tempfile::tempdir().unwrap();
        let plots = dir.path().join("plots");

        let without = write_all(&plots, &cdnow_model(), None, 4, 30.0, TimeUnit::Week).unwrap();
        let with = write_all(&plots, &cdnow_model(), Some(&small_report()), 4, 30.0, TimeUnit::Week).unwrap();

        assert_eq!(without, [plots.join("p_alive.svg")]);
        assert_eq!(with, [plots.join("holdout.svg"), plots.join("p_alive.svg")]);
        assert!(with.iter().all(|p| p.is_file()));
    }

    #[test]
    fn a_write_into_a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("holdout.svg");

        let error = holdout_chart(&small_report(), "weeks", &path).unwrap_err();

        assert!(matches!(error, PlotError::Write { .. }));
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot write chart {}: ", path.display()))
        );
    }
}
