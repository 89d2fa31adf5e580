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
mod data;
mod fit;
mod gamma_gamma;
mod mbgnbd;
mod pareto_nbd;
mod predict;
pub mod special;
mod summary;

pub use bgbb::{BgBbParams, fit_bgbb};
pub use bgnbd::{BgNbdParams, fit_bgnbd};
pub use data::{Histories, WeightedHistory};
pub use fit::{Fit, FitError, FitOptions};
pub use gamma_gamma::{GammaGammaParams, SpendData, fit_gamma_gamma};
pub use mbgnbd::{MbgNbdParams, fit_mbgnbd};
pub use pareto_nbd::{ParetoNbdParams, fit_pareto_nbd};
pub use predict::CustomerModel;
pub use summary::{CustomerSummary, History, Purchase, SummaryOptions, TimeUnit, summarize};
