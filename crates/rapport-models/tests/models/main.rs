//! Integration tests of rapport-models against published results and simulated data.

mod fits;
mod fixtures;
mod hypergeometric;
mod predictions;
mod properties;
mod scoring;
mod summary;
