//! The voice of the customer: surveys read from files (survey_file.rs); their sending, links,
//! responses and analysis come next (issue 10).
//! Analysis: scores with confidence intervals (stats.rs).

pub mod stats;
pub mod survey_file;
