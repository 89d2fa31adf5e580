//! Choosing a purchase model at run time: one enum over the fitted models.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bgbb::{BgBbParams, fit_bgbb};
use crate::bgnbd::{BgNbdParams, fit_bgnbd};
use crate::data::Histories;
use crate::fit::{Fit, FitError, FitOptions};
use crate::mbgnbd::{MbgNbdParams, fit_mbgnbd};
use crate::pareto_nbd::{ParetoNbdParams, fit_pareto_nbd};
use crate::predict::CustomerModel;
use crate::summary::History;

/// The purchase models this crate fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// BG/NBD.
    BgNbd,
    /// MBG/NBD.
    MbgNbd,
    /// Pareto/NBD.
    ParetoNbd,
    /// BG/BB (discrete periods).
    BgBb,
}

/// A fitted purchase model of any kind; serialises as `{"model": "bg_nbd", "r": ..}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum FittedModel {
    /// BG/NBD parameters.
    BgNbd(BgNbdParams),
    /// MBG/NBD parameters.
    MbgNbd(MbgNbdParams),
    /// Pareto/NBD parameters.
    ParetoNbd(ParetoNbdParams),
    /// BG/BB parameters.
    BgBb(BgBbParams),
}

/// Fits the model of the given kind.
pub fn fit_model(kind: ModelKind, data: &Histories, options: &FitOptions) -> Result<Fit<FittedModel>, FitError> {
    Ok(match kind {
        ModelKind::BgNbd => fit_bgnbd(data, options)?.map(FittedModel::BgNbd),
        ModelKind::MbgNbd => fit_mbgnbd(data, options)?.map(FittedModel::MbgNbd),
        ModelKind::ParetoNbd => fit_pareto_nbd(data, options)?.map(FittedModel::ParetoNbd),
        ModelKind::BgBb => fit_bgbb(data, options)?.map(FittedModel::BgBb),
    })
}

impl ModelKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::BgNbd,
        ModelKind::MbgNbd,
        ModelKind::ParetoNbd,
        ModelKind::BgBb,
    ];

    /// The snake_case name, as in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::BgNbd => "bg_nbd",
            ModelKind::MbgNbd => "mbg_nbd",
            ModelKind::ParetoNbd => "pareto_nbd",
            ModelKind::BgBb => "bg_bb",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown model name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown model {0:?}: expected one of bg_nbd, mbg_nbd, pareto_nbd, bg_bb")]
pub struct UnknownModel(pub String);

impl FromStr for ModelKind {
    type Err = UnknownModel;

    /// Accepts the snake_case name, ignoring case, '-', '/' and '_' ("BG/NBD", "bgnbd").
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let squashed: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name().replace('_', "") == squashed)
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

impl FittedModel {
    /// Which kind of model this is.
    pub fn kind(&self) -> ModelKind {
        match self {
            FittedModel::BgNbd(_) => ModelKind::BgNbd,
            FittedModel::MbgNbd(_) => ModelKind::MbgNbd,
            FittedModel::ParetoNbd(_) => ModelKind::ParetoNbd,
            FittedModel::BgBb(_) => ModelKind::BgBb,
        }
    }

    fn inner(&self) -> &dyn CustomerModel {
        match self {
            FittedModel::BgNbd(p) => p,
            FittedModel::MbgNbd(p) => p,
            FittedModel::ParetoNbd(p) => p,
            FittedModel::BgBb(p) => p,
        }
    }
}

impl CustomerModel for FittedModel {
    fn p_alive(&self, history: &History) -> f64 {
        self.inner().p_alive(history)
    }

    fn expected_purchases_if_alive(&self, frequency: u32, age: f64, t: f64) -> f64 {
        self.inner().expected_purchases_if_alive(frequency, age, t)
    }

    fn expected_purchases_new(&self, t: f64) -> f64 {
        self.inner().expected_purchases_new(t)
    }

    fn median_time_to_next_purchase(&self, history: &History) -> Option<f64> {
        self.inner().median_time_to_next_purchase(history)
    }

    fn p_alive_and_median(&self, history: &History) -> (f64, Option<f64>) {
        self.inner().p_alive_and_median(history)
    }
}
