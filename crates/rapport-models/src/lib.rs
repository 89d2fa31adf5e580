//! Pure numerics for customer-base analysis: RFM summaries, buy-till-you-die models, segments.
//!
//! Data flows one way: a purchase log becomes per-customer [`CustomerSummary`] rows
//! ([`summarize`]); their histories, grouped into weighted distinct rows ([`Histories`]),
//! are fitted by maximum likelihood ([`fit_bgnbd`], [`fit_mbgnbd`], [`fit_pareto_nbd`],
//! [`fit_bgbb`], [`fit_gamma_gamma`]); a fitted model implements [`CustomerModel`] and
//! scores customers. Nothing here does I/O, so every function is deterministic.

mod bg_family;
mod bgbb;
mod bgnbd;
mod clv;
mod data;
mod explain;
mod fit;
mod gamma_gamma;
mod holdout;
mod mbgnbd;
mod model;
mod parallel;
mod pareto_nbd;
mod predict;
mod rfm;
pub mod simulate;
pub mod special;
mod summary;

pub use bgbb::{BgBbParams, fit_bgbb};
pub use bgnbd::{BgNbdParams, fit_bgnbd};
pub use clv::{ClvOptions, CustomerScore, clv, score_customers};
pub use data::{Histories, WeightedHistory};
pub use explain::explain;
pub use fit::{Fit, FitError, FitOptions};
pub use gamma_gamma::{GammaGammaParams, SpendData, fit_gamma_gamma};
pub use holdout::{HoldoutGroup, HoldoutReport, evaluate_holdout};
pub use mbgnbd::{MbgNbdParams, fit_mbgnbd};
pub use model::{FittedModel, ModelKind, UnknownModel, fit_model};
pub use pareto_nbd::{ParetoNbdParams, fit_pareto_nbd};
pub use predict::CustomerModel;
pub use rfm::{RfmScore, Segment, rfm_scores};
pub use summary::{CustomerSummary, History, Purchase, SummaryOptions, TimeUnit, summarize};
