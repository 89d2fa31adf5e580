//! Which way of scoring a business's data can be trusted: fit the candidate models, refuse the
//! ones the data do not identify, keep the best of the rest by likelihood, or fall back to the
//! business's own gaps between purchases, saying why in one sentence each.

use rapport_models::{
    CustomerSummary, Fit, FitError, FitOptions, FittedModel, Histories, ModelKind, evaluate_holdout, fit_model,
};
use serde::Serialize;

/// Fewest customers the models are fitted to: below this a fit's parameters wander (the
/// anchors agree: Klaviyo asks for 500 customers).
pub const MIN_CUSTOMERS: usize = 300;
/// Fewest repeat buyers the models are fitted to: they carry all the information on churn.
pub const MIN_REPEAT_BUYERS: usize = 100;
/// Largest standard error accepted, as a multiple of its estimate: beyond it the data do not
/// pin the parameter down, whatever the optimiser reports.
const MAX_RELATIVE_ERROR: f64 = 3.0;

/// Fewest repeat purchases a hold-out period must hold before a model's forecast of it is judged:
/// fewer, and chance alone moves the count by a third.
pub const MIN_HOLDOUT_PURCHASES: f64 = 100.0;
/// How far a model's forecast of the hold-out period may miss the repeat purchases made, as a share
/// of them, before it is refused.
const MAX_HOLDOUT_MISS: f64 = 0.5;

/// The last weeks of the data set aside: customers summarised up to the period's start, with what
/// they bought in it, to test each candidate's forecast.
#[derive(Debug, Clone)]
pub struct Holdout {
    /// Summaries up to the start of the period, with `holdout_frequency` filled.
    pub summaries: Vec<CustomerSummary>,
    /// The period's length, in the model's unit.
    pub length: f64,
    /// The period as people read it, e.g. "the 13 weeks after 2026-09-06".
    pub described: String,
}

/// Which purchase model a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    /// MBG/NBD and Pareto/NBD are fitted and the better identified one kept; the business's own
    /// gaps when neither can be trusted. BG/NBD is left out: it holds every one-time buyer
    /// certainly active, however long ago they bought.
    Auto,
    /// This model, or the business's own gaps when the data cannot support it.
    Only(ModelKind),
    /// The business's own gaps between purchases, no model.
    Gaps,
}

impl std::str::FromStr for ModelChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ModelChoice::Auto),
            "gaps" | "empirical" => Ok(ModelChoice::Gaps),
            "bgbb" | "bg-bb" | "bg_bb" => Err("BG/BB is for discrete periods and is not offered here".to_owned()),
            other => other
                .parse::<ModelKind>()
                .map(ModelChoice::Only)
                .map_err(|_| format!("'{s}' is not a model (use auto, bgnbd, mbgnbd, pareto-nbd or gaps)")),
        }
    }
}

impl ModelChoice {
    fn candidates(self) -> Vec<ModelKind> {
        match self {
            ModelChoice::Auto => vec![ModelKind::MbgNbd, ModelKind::ParetoNbd],
            ModelChoice::Only(kind) => vec![kind],
            ModelChoice::Gaps => Vec::new(),
        }
    }
}

/// The model kept, with the sentences that say why, or none (the gaps rule) and why.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// One sentence: which way of scoring and why.
    pub reason: String,
    /// One sentence per candidate that was refused.
    pub refused: Vec<String>,
    /// The fit kept, if any.
    #[serde(skip)]
    pub fit: Option<Fit<FittedModel>>,
}

/// Fits the candidates of `choice` to the summaries and keeps the best identified one whose
/// forecast of the hold-out period (when there is one) is near what was bought.
pub fn choose(choice: ModelChoice, summaries: &[CustomerSummary], holdout: Option<&Holdout>) -> Verdict {
    let candidates = choice.candidates();
    if candidates.is_empty() {
        return Verdict {
            reason: "scores use this shop's own gaps between purchases, as asked".to_owned(),
            refused: Vec::new(),
            fit: None,
        };
    }
    let names = candidates.iter().map(|k| label(*k)).collect::<Vec<_>>().join(" or ");
    let customers = summaries.len();
    let repeat = summaries.iter().filter(|s| s.frequency > 0).count();
    if customers < MIN_CUSTOMERS || repeat < MIN_REPEAT_BUYERS {
        return Verdict {
            reason: fallback_reason(),
            refused: vec![format!(
                "{customers} {} and {repeat} repeat {} are too few to fit {names}: a model needs about \
                 {MIN_CUSTOMERS} customers and {MIN_REPEAT_BUYERS} repeat buyers",
                plural(customers, "customer", "customers"),
                plural(repeat, "buyer", "buyers"),
            )],
            fit: None,
        };
    }
    let sampled = (candidates.len() > 1 && customers > CHOICE_SAMPLE).then(|| sample(summaries, holdout));
    let (best, refused, on_sample) = match &sampled {
        // Many customers: the candidates compete on a sample, and only the winner is fitted to all.
        Some((few, few_holdout)) => {
            let (winner, refused) = trial(&candidates, few, few_holdout.as_ref());
            let Some(winner) = winner else {
                return fallback(refused);
            };
            match fit_all(winner.params.kind(), summaries) {
                Ok(fit) => (fit, refused, Some(few.len())),
                Err(reason) => {
                    let mut refused = refused;
                    refused.push(format!("{} refused: {reason}", label(winner.params.kind())));
                    return fallback(refused);
                }
            }
        }
        None => {
            let (best, refused) = trial(&candidates, summaries, holdout);
            match best {
                Some(fit) => (fit, refused, None),
                None => return fallback(refused),
            }
        }
    };
    let fit = best;
    let kind = fit.params.kind();
    let reason = match (choice, on_sample) {
        (ModelChoice::Auto, Some(n)) if refused.is_empty() => format!(
            "{} fits these purchases better than the other candidate (compared on a sample of {n} customers); both are identified",
            label(kind)
        ),
        (ModelChoice::Auto, None) if refused.is_empty() => format!(
            "{} fits these purchases better than the other candidate (log-likelihood {:.1}); both are identified",
            label(kind),
            fit.log_likelihood
        ),
        (ModelChoice::Auto, Some(n)) => format!(
            "{} is the candidate the data identify (compared on a sample of {n} customers)",
            label(kind)
        ),
        (ModelChoice::Auto, None) => format!("{} is the candidate the data identify", label(kind)),
        _ => format!("{} as asked; the data identify its parameters", label(kind)),
    };
    Verdict {
        reason,
        refused,
        fit: Some(fit),
    }
}

/// Optimiser iterations a candidate gets in the comparison: the models that fit converge in a few
/// dozen, and one that does not would otherwise search for minutes before it is refused.
const TRIAL_ITERATIONS: u64 = 100;

/// Customers the candidates are compared on when there are more: the comparison needs far fewer
/// than the fit of the winner, and Pareto/NBD takes tens of seconds on a million.
const CHOICE_SAMPLE: usize = 5_000;

/// Fits each candidate, refusing those the data do not identify or whose forecast of the
/// hold-out period misses; the one with the highest likelihood, and why the others were refused.
fn trial(
    candidates: &[ModelKind],
    summaries: &[CustomerSummary],
    holdout: Option<&Holdout>,
) -> (Option<Fit<FittedModel>>, Vec<String>) {
    let mut refused = Vec::new();
    let histories = match Histories::from_summaries(summaries) {
        Ok(histories) => histories,
        Err(e) => {
            let names = candidates.iter().map(|k| label(*k)).collect::<Vec<_>>().join(" or ");
            return (None, vec![format!("{names} refused: {}", plain(&e))]);
        }
    };
    let mut best: Option<Fit<FittedModel>> = None;
    let options = FitOptions {
        max_iterations: TRIAL_ITERATIONS,
        ..FitOptions::default()
    };
    for &kind in candidates {
        let fitted = fit_model(kind, &histories, &options)
            .map_err(|e| plain(&e))
            .and_then(|fit| identified(&fit).map(|()| fit))
            .and_then(|fit| forecasts(kind, holdout, &options).map(|()| fit));
        match fitted {
            Ok(fit) if best.as_ref().is_none_or(|b| fit.log_likelihood > b.log_likelihood) => best = Some(fit),
            Ok(_) => {}
            Err(reason) => refused.push(format!("{} refused: {reason}", label(kind))),
        }
    }
    (best, refused)
}

/// The chosen model fitted to every customer, still identified.
fn fit_all(kind: ModelKind, summaries: &[CustomerSummary]) -> Result<Fit<FittedModel>, String> {
    let histories = Histories::from_summaries(summaries).map_err(|e| plain(&e))?;
    let fit = fit_model(kind, &histories, &FitOptions::default()).map_err(|e| plain(&e))?;
    identified(&fit).map(|()| fit)
}

/// Every k-th customer (by index, the same in the hold-out summaries), about `CHOICE_SAMPLE` of them.
fn sample(summaries: &[CustomerSummary], holdout: Option<&Holdout>) -> (Vec<CustomerSummary>, Option<Holdout>) {
    let stride = summaries.len().div_ceil(CHOICE_SAMPLE) as u32;
    let keep = |s: &&CustomerSummary| s.customer.is_multiple_of(stride);
    let few = summaries.iter().filter(keep).copied().collect();
    let few_holdout = holdout.map(|h| Holdout {
        summaries: h.summaries.iter().filter(keep).copied().collect(),
        length: h.length,
        described: h.described.clone(),
    });
    (few, few_holdout)
}

fn fallback(refused: Vec<String>) -> Verdict {
    Verdict {
        reason: fallback_reason(),
        refused,
        fit: None,
    }
}

/// Refuses a fit whose standard errors dwarf its estimates: such parameters mean nothing.
fn identified(fit: &Fit<FittedModel>) -> Result<(), String> {
    let params = super::params_json(&fit.params);
    let errors = super::params_json(&fit.std_errors);
    for (name, value) in params.as_object().into_iter().flatten() {
        let (value, error) = (
            value.as_f64().unwrap_or(f64::NAN),
            errors.get(name).and_then(|e| e.as_f64()).unwrap_or(f64::NAN),
        );
        if !error.is_finite() || error > MAX_RELATIVE_ERROR * value {
            return Err(format!(
                "its parameter {name} is {value:.4} ± {error:.4}: the data cannot pin it down"
            ));
        }
    }
    Ok(())
}

/// Refuses a model that, fitted on the data before the hold-out period, misses the repeat
/// purchases made in it by more than half. Without a hold-out period (too little data) it passes.
fn forecasts(kind: ModelKind, holdout: Option<&Holdout>, options: &FitOptions) -> Result<(), String> {
    let Some(holdout) = holdout else { return Ok(()) };
    let fit = Histories::from_summaries(&holdout.summaries)
        .and_then(|h| fit_model(kind, &h, options))
        .map_err(|e| format!("fitted on the data before {}, {}", holdout.described, plain(&e)))?;
    let report = evaluate_holdout(&fit.params, &holdout.summaries, holdout.length, 7);
    let (predicted, actual) = (report.predicted_total, report.actual_total);
    if actual >= MIN_HOLDOUT_PURCHASES && (predicted - actual).abs() > MAX_HOLDOUT_MISS * actual {
        return Err(format!(
            "fitted on the data before {}, it forecast {predicted:.0} repeat purchases in it, and {actual:.0} were made",
            holdout.described
        ));
    }
    Ok(())
}

/// A fit error in the words of a shop owner.
fn plain(error: &FitError) -> String {
    match error {
        FitError::Degenerate { parameter, .. } => {
            format!("its parameter {parameter} runs off without limit: the data do not identify it")
        }
        FitError::NotConverged { .. } => "the fit found no maximum: the data do not identify it".to_owned(),
        other => other.to_string(),
    }
}

fn fallback_reason() -> String {
    "scores use this shop's own gaps between purchases instead of a model".to_owned()
}

/// The model's name as people write it.
pub fn label(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::BgNbd => "BG/NBD",
        ModelKind::MbgNbd => "MBG/NBD",
        ModelKind::ParetoNbd => "Pareto/NBD",
        ModelKind::BgBb => "BG/BB",
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_by_name() {
        assert_eq!("auto".parse(), Ok(ModelChoice::Auto));
        assert_eq!("gaps".parse(), Ok(ModelChoice::Gaps));
        assert_eq!("bgnbd".parse(), Ok(ModelChoice::Only(ModelKind::BgNbd)));
        assert_eq!("pareto-nbd".parse(), Ok(ModelChoice::Only(ModelKind::ParetoNbd)));
        assert!("magic".parse::<ModelChoice>().is_err());
    }

    #[test]
    fn a_small_shop_is_refused_with_its_numbers() {
        let summaries: Vec<CustomerSummary> = (0..60)
            .map(|i| CustomerSummary {
                customer: i,
                frequency: u32::from(i % 3 != 0),
                recency: 1.0,
                age: 10.0,
                monetary: 5.0,
                total_spend: 10.0,
                holdout_frequency: 0,
            })
            .collect();
        let verdict = choose(ModelChoice::Only(ModelKind::BgNbd), &summaries, None);
        assert!(verdict.fit.is_none());
        assert_eq!(
            verdict.refused,
            vec![
                "60 customers and 40 repeat buyers are too few to fit BG/NBD: a model needs about 300 customers and 100 repeat buyers"
            ]
        );
    }
}

#[cfg(test)]
mod holdout_tests {
    use rand::SeedableRng;
    use rapport_models::{BgNbdParams, simulate::simulate_bgnbd_histories};

    use super::*;

    /// Customers drawn from BG/NBD with the CDNOW parameters, summarised before a 13-week period in
    /// which each bought `bought` times.
    fn holdout(bought: u32) -> Holdout {
        let params = BgNbdParams {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let ages: Vec<f64> = (0..2_000).map(|i| 26.0 + f64::from(i % 13)).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let summaries = simulate_bgnbd_histories(&params, &ages, &mut rng)
            .into_iter()
            .enumerate()
            .map(|(i, h)| CustomerSummary {
                customer: i as u32,
                frequency: h.frequency,
                recency: h.recency,
                age: h.age,
                monetary: 10.0,
                total_spend: 10.0,
                holdout_frequency: if h.frequency > 0 { bought } else { 0 },
            })
            .collect();
        Holdout {
            summaries,
            length: 13.0,
            described: "the 13 weeks after 2026-09-06".to_owned(),
        }
    }

    #[test]
    fn a_model_whose_forecast_misses_the_hold_out_period_by_far_is_refused_saying_by_how_much() {
        let reason = forecasts(ModelKind::BgNbd, Some(&holdout(20)), &FitOptions::default()).unwrap_err();
        assert!(
            reason.starts_with("fitted on the data before the 13 weeks after 2026-09-06, it forecast"),
            "{reason}"
        );
        assert!(reason.contains("were made"), "{reason}");
    }

    #[test]
    fn with_many_customers_the_candidates_compete_on_a_sample_and_the_winner_fits_everyone() {
        let mut many = holdout(0).summaries;
        let more: Vec<CustomerSummary> = many
            .iter()
            .cycle()
            .take(12_000)
            .enumerate()
            .map(|(i, s)| CustomerSummary {
                customer: i as u32,
                ..*s
            })
            .collect();
        many = more;
        let verdict = choose(ModelChoice::Auto, &many, None);
        let fit = verdict.fit.clone().expect("a model");
        assert_eq!(fit.customers, 12_000.0, "the winner is fitted to every customer");
        assert!(verdict.reason.contains("a sample of 4000 customers"), "{verdict:?}");
    }

    #[test]
    fn a_model_that_forecasts_the_hold_out_period_passes() {
        let mut near = holdout(0);
        let expected: f64 = {
            let fit = fit_model(
                ModelKind::BgNbd,
                &Histories::from_summaries(&near.summaries).unwrap(),
                &FitOptions::default(),
            )
            .unwrap();
            evaluate_holdout(&fit.params, &near.summaries, 13.0, 7).predicted_total
        };
        // Spread the forecast's own total over the repeat buyers: the period went as forecast.
        let buyers: Vec<usize> = (0..near.summaries.len())
            .filter(|i| near.summaries[*i].frequency > 0)
            .collect();
        for (n, i) in buyers.iter().enumerate() {
            near.summaries[*i].holdout_frequency =
                u32::from((n as f64) < expected % buyers.len() as f64) + (expected as usize / buyers.len()) as u32;
        }
        assert_eq!(forecasts(ModelKind::BgNbd, Some(&near), &FitOptions::default()), Ok(()));
        assert_eq!(forecasts(ModelKind::BgNbd, None, &FitOptions::default()), Ok(()));
    }
}
