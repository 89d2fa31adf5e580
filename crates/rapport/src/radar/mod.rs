//! The defection radar: who is slipping away. On a file (`analysis`, for `rapport analyze`) or on
//! the store (`store`: fit a model version, score every customer with it), over a purchase log
//! read fast from either (`purchase_log`), with charts of how well a model predicted (`plots`).

pub mod analysis;
pub mod plots;
pub mod purchase_log;
mod store;

pub use store::{
    FitSettings, RadarError, ScoreReport, ScoreSettings, fit_store, score_store, score_store_rows, stored_log,
    unit_name,
};
