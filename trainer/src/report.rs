//! A run's record: `metrics.jsonl` (one line per epoch) and SVG charts of loss, learning
//! rate, temperature and validation accuracy, rewritten after every epoch.

use std::io::Write;
use std::path::{Path, PathBuf};

use arbor_index::Rank;
use plotters::prelude::*;

use crate::error::{Result, TrainError};
use crate::run::EpochMetrics;

/// The metrics file of a run folder.
pub const METRICS: &str = "metrics.jsonl";
/// The charts folder of a run folder.
pub const CHARTS: &str = "charts";

/// Rewrites `metrics.jsonl` and the charts from the full history (atomically, so a reader
/// never sees half a file).
pub fn write(out: &Path, history: &[EpochMetrics]) -> Result<()> {
    let path = out.join(METRICS);
    arbor_index::write_atomically(&path, |w| {
        for epoch in history {
            let line = serde_json::to_string(epoch).map_err(std::io::Error::other)?;
            writeln!(w, "{line}")?;
        }
        Ok(())
    })?;
    let charts = out.join(CHARTS);
    std::fs::create_dir_all(&charts).map_err(|e| TrainError::io(&charts, e))?;
    let epochs: Vec<f64> = history.iter().map(|e| e.epoch as f64).collect();
    let series = |f: &dyn Fn(&EpochMetrics) -> Option<f64>| -> Vec<(f64, f64)> {
        history.iter().zip(&epochs).filter_map(|(e, x)| f(e).map(|y| (*x, y))).collect()
    };
    chart(&charts.join("loss.svg"), "training loss", &[("loss", series(&|e| Some(e.loss)))], None)?;
    chart(&charts.join("lr.svg"), "learning rate", &[("lr", series(&|e| Some(e.lr)))], None)?;
    chart(&charts.join("logit_scale.svg"), "logit scale exp(t)", &[("scale", series(&|e| Some(e.logit_scale)))], None)?;
    let mut accuracy: Vec<(String, Vec<(f64, f64)>)> = Rank::ALL
        .iter()
        .map(|r| {
            let pick = |e: &EpochMetrics| e.val.as_ref()?.zero_shot.seen.map(|a| a.at(*r));
            (format!("zero-shot {}", r.name()), series(&pick))
        })
        .collect();
    for shots in ["1", "5"] {
        let pick = |e: &EpochMetrics| e.val.as_ref()?.few_shot.get(shots)?.map(|s| s.mean);
        accuracy.push((format!("{shots}-shot species"), series(&pick)));
    }
    let named: Vec<(&str, Vec<(f64, f64)>)> = accuracy.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
    chart(&charts.join("val_accuracy.svg"), "validation accuracy", &named, Some((0.0, 1.0)))
}

/// The chart files [`write`] produces, for reporting.
pub fn chart_paths(out: &Path) -> Vec<PathBuf> {
    ["loss", "lr", "logit_scale", "val_accuracy"].iter().map(|n| out.join(CHARTS).join(format!("{n}.svg"))).collect()
}

fn chart(path: &Path, title: &str, series: &[(&str, Vec<(f64, f64)>)], y_range: Option<(f64, f64)>) -> Result<()> {
    let mut svg = String::new();
    draw(&mut svg, title, series, y_range).map_err(|e| TrainError::io(path, std::io::Error::other(e.to_string())))?;
    arbor_index::write_atomically(path, |w| w.write_all(svg.as_bytes()))?;
    Ok(())
}

fn draw(
    svg: &mut String,
    title: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    y_range: Option<(f64, f64)>,
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
    let (y_min, y_max) = y_range.unwrap_or_else(|| {
        let lo = points.clone().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = points.clone().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi > lo { (lo.min(0.0), hi * 1.05) } else { (0.0, 1.0) }
    });
    let root = SVGBackend::with_string(svg, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
    chart.configure_mesh().x_desc("epoch").draw()?;
    // A series with no points (e.g. 5-shot on a val split with too few photos per species)
    // would only clutter the legend.
    for (i, (name, data)) in series.iter().enumerate().filter(|(_, (_, data))| !data.is_empty()) {
        let colour = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(data.iter().copied(), colour.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    if series.len() > 1 {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}
