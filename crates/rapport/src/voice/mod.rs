//! The voice of the customer: surveys read from files (survey_file.rs); their sending, links,
//! responses and analysis come next (issue 10).
//! Analysis: scores with confidence intervals (stats.rs) and themes of comments (themes.rs).

pub mod stats;
pub mod survey_file;
pub mod themes;
