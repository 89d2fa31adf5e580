//! Pure numerics for customer-base analysis: RFM summaries, buy-till-you-die models, segments.
//!
//! Data flows one way: a purchase log becomes per-customer [`CustomerSummary`] rows
//! ([`summarize`]); their histories, grouped into weighted distinct rows ([`Histories`]),
//! are fitted by maximum likelihood ([`fit_bgnbd`], [`fit_mbgnbd`], [`fit_pareto_nbd`],
//! [`fit_bgbb`], or [`fit_model`] by [`ModelKind`]; spend by [`fit_gamma_gamma`]); a
//! fitted model implements [`CustomerModel`] and scores customers ([`score_customers`],
//! [`clv`], [`evaluate_holdout`], [`explain`]). RFM quintiles and named segments come
//! from the summaries alone ([`rfm_scores`]). Nothing here does I/O, so every function
//! is deterministic; [`simulate`] draws data from known parameters with a caller's RNG.
//!
//! Conventions: customers are dense `u32` indices the caller maps its ids to; days are
//! integers (for example days since 1970-01-01); model times are in a [`TimeUnit`]
//! (days or weeks) and a fitted model's parameters are only meaningful in the unit of the
//! data it was fitted on. Parameter names follow the papers.
//!
//! ```
//! use rapport_models::*;
//!
//! // Two customers' purchases: (customer index, day number, amount).
//! let log: Vec<Purchase> = [(0, 0, 20.0), (0, 14, 25.0), (0, 30, 22.0), (1, 3, 9.5)]
//!     .into_iter()
//!     .map(|(customer, day, amount)| Purchase { customer, day, amount })
//!     .collect();
//! let options = SummaryOptions { calibration_end: 60, holdout_end: None, unit: TimeUnit::Week };
//! let customers = summarize(&log, &options);
//! assert_eq!((customers[0].frequency, customers[1].frequency), (2, 0));
//!
//! // Two customers are far too few to fit: the error says so instead of returning numbers.
//! let data = Histories::from_summaries(&customers).unwrap();
//! let error = fit_bgnbd(&data, &FitOptions::default()).unwrap_err();
//! assert!(matches!(error, FitError::TooFewRepeatBuyers { found: 1, needed: 30 }));
//!
//! // With parameters (fitted elsewhere, here the published CDNOW ones) scoring is direct.
//! let model = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
//! let spend = GammaGammaParams { p: 6.25, q: 3.74, gamma: 15.44 };
//! let scores = score_customers(&model, Some(&spend), &customers, &ClvOptions::default());
//! assert!(scores[0].p_alive > 0.5 && scores[0].clv > 0.0);
//! let sentence = explain(&customers[0], &scores[0], &ClvOptions::default());
//! assert!(sentence.starts_with("bought 3 times, usually every 2 weeks; nothing for 4 weeks"));
//! ```

mod bg_family;
mod bgbb;
mod bgnbd;
mod clv;
mod data;
mod empirical;
mod explain;
mod fit;
mod gamma_gamma;
mod grouping;
mod holdout;
mod log_space;
mod mbgnbd;
mod model;
mod newton;
mod parallel;
mod pareto_nbd;
mod predict;
mod rfm;
mod running;
pub mod simulate;
pub mod special;
mod summary;

pub use bgbb::{BgBbParams, fit_bgbb};
pub use bgnbd::{BgNbdParams, fit_bgnbd};
pub use clv::{ClvOptions, CustomerScore, clv, score_customers};
pub use data::{Histories, WeightedHistory};
pub use empirical::{GapRule, GapScore, OVERDUE_BELOW, PurchaseDays, purchase_days};
pub use explain::{explain, explain_into};
pub use fit::{Fit, FitError, FitOptions};
pub use gamma_gamma::{GammaGammaParams, SpendData, fit_gamma_gamma};
pub use holdout::{HoldoutGroup, HoldoutReport, evaluate_holdout};
pub use mbgnbd::{MbgNbdParams, fit_mbgnbd};
pub use model::{FittedModel, ModelKind, UnknownModel, fit_model};
pub use pareto_nbd::{ParetoNbdParams, fit_pareto_nbd};
pub use predict::CustomerModel;
pub use rfm::{RfmScore, Segment, rfm_scores};
pub use summary::{CustomerSummary, History, Purchase, SummaryOptions, TimeUnit, summarize};
