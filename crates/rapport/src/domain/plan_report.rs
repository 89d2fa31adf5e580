//! Does the care work? A plan's treated customers against its hold-out since enrolment: repeat
//! purchases within 30, 90 and 365 days, revenue per customer, and the share still alive, each
//! difference with a 95 % confidence interval and a sentence a shop owner can read.

use serde::Serialize;

/// What became of one customer after a plan first ran for them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Enrolled {
    /// The plan acted (false: held out).
    pub treated: bool,
    /// When the plan first ran for them (Unix seconds).
    pub enrolled_at: i64,
    /// Their first purchase after that, if any.
    pub next_purchase_at: Option<i64>,
    /// What they spent in the 90 days after it, in cents.
    pub revenue_90d_cents: i64,
    /// P(alive) at the latest scoring, when scored.
    pub p_alive: Option<f64>,
}

/// Fewer customers than this in either group gives no conclusion.
pub const MIN_GROUP: u64 = 30;

/// The z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// One measure in both groups, and their difference (treated minus held out).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Customers in the treated group the measure covers.
    pub treated_customers: u64,
    /// Customers in the held-out group the measure covers.
    pub held_out_customers: u64,
    /// The measure among the treated (a share from 0 to 1, or an amount); null while the group
    /// is empty (NaN here, which JSON writes as null).
    #[schema(value_type = Option<f64>)]
    pub treated: f64,
    /// The measure among the held out; null while the group is empty.
    #[schema(value_type = Option<f64>)]
    pub held_out: f64,
    /// Treated minus held out; null while either group is empty.
    #[schema(value_type = Option<f64>)]
    pub difference: f64,
    /// The 95 % confidence interval of the difference, low and high; nulls while either group is
    /// empty.
    #[schema(value_type = Vec<Option<f64>>, min_items = 2, max_items = 2)]
    pub ci95: [f64; 2],
    /// Both groups have at least `MIN_GROUP` customers.
    pub conclusive_size: bool,
}

/// A plan's treated customers against its hold-out.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PlanReport {
    /// Customers the plan acted for.
    pub treated: u64,
    /// Customers held out.
    pub held_out: u64,
    /// Bought again within 30 days of enrolment (customers enrolled at least 30 days ago).
    pub repeat_30d: Comparison,
    /// Within 90 days.
    pub repeat_90d: Comparison,
    /// Within 365 days.
    pub repeat_365d: Comparison,
    /// Revenue per customer in the 90 days after enrolment (currency units).
    pub revenue_90d: Comparison,
    /// Share with P(alive) above one half at the latest scoring (scored customers).
    pub alive: Comparison,
    /// The finding in plain words.
    pub sentence: String,
}

/// Compares the groups as of `now`: a window counts only customers enrolled long enough ago for
/// it to have passed.
pub fn plan_report(plan: &str, enrolled: &[Enrolled], now: i64) -> PlanReport {
    let treated = enrolled.iter().filter(|e| e.treated).count() as u64;
    let held_out = enrolled.len() as u64 - treated;
    let repeat = |days: i64| {
        let window = days * 86_400;
        let values = |treated: bool| -> Vec<f64> {
            enrolled
                .iter()
                .filter(|e| e.treated == treated && e.enrolled_at + window <= now)
                .map(|e| {
                    f64::from(u8::from(
                        e.next_purchase_at.is_some_and(|at| at <= e.enrolled_at + window),
                    ))
                })
                .collect()
        };
        compare(&values(true), &values(false))
    };
    let revenue = |treated: bool| -> Vec<f64> {
        enrolled
            .iter()
            .filter(|e| e.treated == treated && e.enrolled_at + 90 * 86_400 <= now)
            .map(|e| e.revenue_90d_cents as f64 / 100.0)
            .collect()
    };
    let alive = |treated: bool| -> Vec<f64> {
        enrolled
            .iter()
            .filter(|e| e.treated == treated)
            .filter_map(|e| e.p_alive.map(|p| f64::from(u8::from(p > 0.5))))
            .collect()
    };
    let repeat_90d = repeat(90);
    PlanReport {
        treated,
        held_out,
        repeat_30d: repeat(30),
        sentence: sentence(plan, &repeat_90d, treated, held_out),
        repeat_90d,
        repeat_365d: repeat(365),
        revenue_90d: compare(&revenue(true), &revenue(false)),
        alive: compare(&alive(true), &alive(false)),
    }
}

/// Means, their difference and its normal-approximation interval (Welch's standard error; for
/// 0/1 values that is the usual one for two proportions).
fn compare(treated: &[f64], held_out: &[f64]) -> Comparison {
    let (m1, v1) = mean_var(treated);
    let (m2, v2) = mean_var(held_out);
    let (n1, n2) = (treated.len() as f64, held_out.len() as f64);
    let difference = m1 - m2;
    let se = if n1 > 0.0 && n2 > 0.0 {
        (v1 / n1 + v2 / n2).sqrt()
    } else {
        f64::NAN
    };
    Comparison {
        treated_customers: treated.len() as u64,
        held_out_customers: held_out.len() as u64,
        treated: m1,
        held_out: m2,
        difference,
        ci95: [difference - Z95 * se, difference + Z95 * se],
        conclusive_size: treated.len() as u64 >= MIN_GROUP && held_out.len() as u64 >= MIN_GROUP,
    }
}

/// Mean and sample variance (0 for fewer than two values; NaN mean for none).
fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, 0.0);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

fn sentence(plan: &str, repeat: &Comparison, treated: u64, held_out: u64) -> String {
    if !repeat.conclusive_size {
        return format!(
            "Too few customers for a conclusion yet: '{plan}' needs at least {MIN_GROUP} treated and {MIN_GROUP} \
             held-out customers enrolled 90 days ago or more ({} and {} so far; {treated} treated and {held_out} \
             held out in all).",
            repeat.treated_customers, repeat.held_out_customers
        );
    }
    let points = repeat.difference * 100.0;
    let [low, high] = repeat.ci95.map(|x| x * 100.0);
    let direction = if points >= 0.0 { "more" } else { "less" };
    let verdict = if low > 0.0 {
        "the care makes a difference"
    } else if high < 0.0 {
        "the care seems to put customers off"
    } else {
        "the difference could be chance"
    };
    format!(
        "Customers who got '{plan}' came back {:.1} points {direction} often within 90 days than those held out \
         (95 % CI {low:.1} to {high:.1}; {} treated, {} held out): {verdict}.",
        points.abs(),
        repeat.treated_customers,
        repeat.held_out_customers
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(treated: bool, n: usize, came_back: usize) -> Vec<Enrolled> {
        (0..n)
            .map(|i| Enrolled {
                treated,
                enrolled_at: 0,
                next_purchase_at: (i < came_back).then_some(10 * 86_400),
                revenue_90d_cents: if i < came_back { 5_000 } else { 0 },
                p_alive: Some(if i < came_back { 0.9 } else { 0.2 }),
            })
            .collect()
    }

    #[test]
    fn a_difference_in_proportions_has_the_textbook_interval() {
        let mut all = group(true, 1_000, 400);
        all.extend(group(false, 200, 60));
        let report = plan_report("thank-you", &all, 400 * 86_400);
        let r = report.repeat_90d;
        assert_eq!((r.treated, r.held_out), (0.4, 0.3));
        // Sample variances: p(1 - p) n / (n - 1), over n, for each group.
        let se = (0.4_f64 * 0.6 / 999.0 + 0.3 * 0.7 / 199.0).sqrt();
        assert!((r.ci95[0] - (0.1 - Z95 * se)).abs() < 1e-12);
        assert!((report.revenue_90d.treated - 20.0).abs() < 1e-12);
        assert!(
            report
                .sentence
                .starts_with("Customers who got 'thank-you' came back 10.0 points more often")
        );
        assert!(
            report
                .sentence
                .contains("1000 treated, 200 held out): the care makes a difference.")
        );
    }

    #[test]
    fn too_few_or_too_recent_customers_give_no_conclusion() {
        let mut all = group(true, 100, 50);
        all.extend(group(false, 10, 5));
        let report = plan_report("p", &all, 400 * 86_400);
        assert!(report.sentence.starts_with("Too few customers for a conclusion yet"));
        // Enrolled 20 days ago: not even the 30-day window has passed.
        let recent = plan_report("p", &group(true, 100, 50), 20 * 86_400);
        assert_eq!(recent.repeat_30d.treated_customers, 0);
        assert!(recent.repeat_30d.treated.is_nan());
    }
}
