//! Shared maximum-likelihood driver: log-space optimisation, convergence check, standard errors.

use std::cell::RefCell;

use serde::Serialize;

use crate::log_space::{LogSpace, exp_all, run_lbfgs, run_nelder_mead};
use crate::newton::maximise_newton;

/// Settings shared by every fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// Most optimiser iterations per attempt.
    pub max_iterations: u64,
    /// Fewest repeat buyers (customers with frequency > 0) accepted as enough data.
    pub min_repeat_buyers: u64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            max_iterations: 1000,
            min_repeat_buyers: 30,
        }
    }
}

/// A converged maximum-likelihood fit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fit<P> {
    /// Fitted parameters.
    pub params: P,
    /// Standard errors from the inverse Hessian of the negative log-likelihood (NaN if singular).
    pub std_errors: P,
    /// Maximised log-likelihood, summed over customers.
    pub log_likelihood: f64,
    /// Whether the optimiser converged (always true for a returned fit; kept for reports).
    pub converged: bool,
    /// Optimiser iterations used, over all attempts.
    pub iterations: u64,
    /// Number of customers (sum of weights) fitted.
    pub customers: f64,
}

impl<P> Fit<P> {
    /// The same fit with its parameters (and standard errors) wrapped or converted by `f`.
    pub fn map<Q>(self, f: impl Fn(P) -> Q) -> Fit<Q> {
        Fit {
            params: f(self.params),
            std_errors: f(self.std_errors),
            log_likelihood: self.log_likelihood,
            converged: self.converged,
            iterations: self.iterations,
            customers: self.customers,
        }
    }
}

/// Why a fit produced no parameters.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FitError {
    /// Too few repeat buyers to identify the parameters.
    #[error("too few repeat buyers to fit the model: {found}, need at least {needed}")]
    TooFewRepeatBuyers {
        /// Repeat buyers present.
        found: u64,
        /// Repeat buyers required.
        needed: u64,
    },
    /// An input row is impossible (negative, not finite, recency beyond age).
    #[error("invalid input row {row}: {reason}")]
    InvalidInput {
        /// Index of the offending row.
        row: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The maximum lies at the edge of the parameter space, so the model is not identified.
    #[error("parameter {parameter} ran off to {value:.3e}: the data do not identify this model")]
    Degenerate {
        /// Name of the parameter, as in the papers.
        parameter: &'static str,
        /// Where it ended.
        value: f64,
    },
    /// The optimiser stopped without reaching a maximum.
    #[error(
        "the optimiser did not converge after {iterations} iterations (log-likelihood {log_likelihood:.4}, gradient {gradient:.2e})"
    )]
    NotConverged {
        /// Iterations used.
        iterations: u64,
        /// Log-likelihood reached.
        log_likelihood: f64,
        /// Largest absolute gradient of the per-customer log-likelihood in log-parameters.
        gradient: f64,
    },
}

/// A log-likelihood over positive parameters, with an optional analytic gradient.
pub(crate) trait Objective {
    /// Total log-likelihood at natural parameters; fills `grad` (d/dθ) when given.
    fn log_likelihood(&self, theta: &[f64], grad: Option<&mut [f64]>) -> f64;
    /// Whether `log_likelihood` fills the gradient.
    fn has_gradient(&self) -> bool;
    /// Log-likelihood with its gradient and Hessian (∂²/∂θᵢ∂θⱼ, row-major) in closed
    /// form; None when the model has no analytic Hessian.
    fn with_hessian(&self, theta: &[f64], grad: &mut [f64], hessian: &mut [f64]) -> Option<f64> {
        let _ = (theta, grad, hessian);
        None
    }
    /// Total weight (customers), used to scale the cost.
    fn weight(&self) -> f64;
    /// Parameter names, in order, for error messages.
    fn names(&self) -> &'static [&'static str];
}

/// The maximum found by [`maximise`], in natural parameters.
pub(crate) struct Optimum {
    pub theta: Vec<f64>,
    pub std_errors: Vec<f64>,
    pub log_likelihood: f64,
    pub iterations: u64,
}

impl Optimum {
    /// Packs the optimum into a [`Fit`] with the model's parameter type.
    pub(crate) fn into_fit<P>(self, customers: f64, params: impl Fn(&[f64]) -> P) -> Fit<P> {
        Fit {
            params: params(&self.theta),
            std_errors: params(&self.std_errors),
            log_likelihood: self.log_likelihood,
            converged: true,
            iterations: self.iterations,
            customers,
        }
    }
}

/// Per-customer gradient (in log-parameters) below which the fit counts as converged.
const GRADIENT_TOL: f64 = 1e-5;

/// Maximises `objective` from `start` (natural parameters), working in log-parameters.
///
/// With a closed-form Hessian, damped Newton runs first and its result stands when it
/// converges. Otherwise L-BFGS runs; if it fails or stops short, Nelder-Mead restarts from the best
/// point and L-BFGS polishes the result. Convergence is judged by the gradient itself,
/// not by the optimiser's own stopping reason.
pub(crate) fn maximise(objective: &dyn Objective, start: &[f64], options: &FitOptions) -> Result<Optimum, FitError> {
    if let Some(found) = maximise_newton(objective, start, options.max_iterations)
        && found.gradient <= GRADIENT_TOL
        && found.log_likelihood.is_finite()
    {
        check_interior(&found.u, objective.names())?;
        return Ok(Optimum {
            theta: exp_all(&found.u),
            std_errors: found.std_errors,
            log_likelihood: found.log_likelihood,
            iterations: found.iterations,
        });
    }
    let last = RefCell::new(None);
    let problem = LogSpace { objective, last: &last };
    let mut u: Vec<f64> = start.iter().map(|v| v.ln()).collect();
    let mut iterations = 0;
    if let Some((best, iters)) = run_lbfgs(&problem, u.clone(), options.max_iterations) {
        iterations += iters;
        u = best;
    }
    if problem.max_gradient(&u) > GRADIENT_TOL {
        if let Some((best, iters)) = run_nelder_mead(&problem, &u, options.max_iterations) {
            iterations += iters;
            u = best;
        }
        if let Some((best, iters)) = run_lbfgs(&problem, u.clone(), options.max_iterations) {
            iterations += iters;
            u = best;
        }
    }
    let log_likelihood = objective.log_likelihood(&exp_all(&u), None);
    let gradient = problem.max_gradient(&u);
    if gradient.is_nan() || gradient > GRADIENT_TOL || !log_likelihood.is_finite() {
        return Err(FitError::NotConverged {
            iterations,
            log_likelihood,
            gradient,
        });
    }
    check_interior(&u, objective.names())?;
    let std_errors = problem.std_errors(&u);
    Ok(Optimum {
        theta: exp_all(&u),
        std_errors,
        log_likelihood,
        iterations,
    })
}

/// Counts rows with positive frequency, failing when they are too few.
pub(crate) fn check_repeat_buyers(found: f64, options: &FitOptions) -> Result<(), FitError> {
    let found = found.round() as u64;
    if found < options.min_repeat_buyers {
        return Err(FitError::TooFewRepeatBuyers {
            found,
            needed: options.min_repeat_buyers,
        });
    }
    Ok(())
}

/// Largest |ln θ| of a credible parameter: beyond it a parameter is running to 0 or ∞.
const LOG_PARAMETER_LIMIT: f64 = 16.0;

fn check_interior(u: &[f64], names: &'static [&'static str]) -> Result<(), FitError> {
    match u.iter().position(|v| v.abs() > LOG_PARAMETER_LIMIT) {
        Some(i) => Err(FitError::Degenerate {
            parameter: names[i],
            value: u[i].exp(),
        }),
        None => Ok(()),
    }
}
