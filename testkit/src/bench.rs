//! Helpers of the in-page benchmarks: reading `performance.now()` stamps and printing a
//! median / p95 / max line.

/// The (dom, layout, painted) times of a watch result, in ms since its `origin` field.
pub fn since(result: &serde_json::Value, origin: &str) -> (f64, f64, f64) {
    let origin_ms = result[origin].as_f64().unwrap_or_else(|| panic!("{origin} stamped: {result}"));
    let at = |key: &str| result[key].as_f64().unwrap_or_else(|| panic!("{key}: {result}")) - origin_ms;
    (at("dom"), at("layout"), at("painted"))
}

/// Prints `name` with the median, p95 and max of `samples` (ms).
pub fn summary(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<52} n={:<3} median {:>6.1} ms   p95 {:>6.1} ms   max {:>6.1} ms",
        samples.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

/// The samples of one measured step: when it was in the DOM, laid out, and painted.
#[derive(Default)]
pub struct Stages {
    dom: Vec<f64>,
    layout: Vec<f64>,
    painted: Vec<f64>,
}

impl Stages {
    /// Adds a watch result's times, in ms since its `origin` field.
    pub fn push(&mut self, result: &serde_json::Value, origin: &str) {
        let (dom, layout, painted) = since(result, origin);
        self.dom.push(dom);
        self.layout.push(layout);
        self.painted.push(painted);
    }

    /// Prints a line per stage, `{step} -> in DOM` and so on; `painted`: whether the paint
    /// was measured.
    pub fn print(self, step: &str, painted: bool) {
        summary(&format!("{step} -> in DOM"), self.dom);
        summary(&format!("{step} -> laid out"), self.layout);
        if painted {
            summary(&format!("{step} -> next frame painted"), self.painted);
        }
    }
}

/// Prints `name` with the median, p99 and max of `samples` (ms).
pub fn summary_p99(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| {
        samples.get(((samples.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN)
    };
    println!(
        "{name:<52} n={:<4} median {:>6.1} ms   p99 {:>6.1} ms   max {:>6.1} ms",
        samples.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
