//! Shared maximum-likelihood driver: log-space optimisation, convergence check, standard errors.

use std::cell::RefCell;

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use serde::Serialize;

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
/// L-BFGS runs first; if it fails or stops short, Nelder-Mead restarts from the best
/// point and L-BFGS polishes the result. Convergence is judged by the gradient itself,
/// not by the optimiser's own stopping reason.
pub(crate) fn maximise(
    objective: &dyn Objective,
    start: &[f64],
    options: &FitOptions,
) -> Result<Optimum, FitError> {
    let last = RefCell::new(None);
    let problem = LogSpace {
        objective,
        last: &last,
    };
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

fn exp_all(u: &[f64]) -> Vec<f64> {
    u.iter().map(|v| v.exp()).collect()
}

fn run_lbfgs(problem: &LogSpace<'_>, u: Vec<f64>, max_iters: u64) -> Option<(Vec<f64>, u64)> {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-6)
        .ok()?
        .with_tolerance_cost(1e-13)
        .ok()?;
    let result = Executor::new(*problem, solver)
        .configure(|state| state.param(u).max_iters(max_iters))
        .run()
        .ok()?;
    let state = result.state();
    Some((state.get_best_param()?.clone(), state.get_iter()))
}

fn run_nelder_mead(problem: &LogSpace<'_>, u: &[f64], max_iters: u64) -> Option<(Vec<f64>, u64)> {
    let mut simplex = vec![u.to_vec()];
    for i in 0..u.len() {
        let mut vertex = u.to_vec();
        vertex[i] += 0.3;
        simplex.push(vertex);
    }
    let solver = NelderMead::new(simplex).with_sd_tolerance(1e-13).ok()?;
    let result = Executor::new(*problem, solver)
        .configure(|state| state.max_iters(max_iters * 4))
        .run()
        .ok()?;
    let state = result.state();
    Some((state.get_best_param()?.clone(), state.get_iter()))
}

/// The objective seen by argmin: mean negative log-likelihood of log-parameters.
#[derive(Clone, Copy)]
struct LogSpace<'a> {
    objective: &'a dyn Objective,
    /// The last point evaluated with its cost and gradient: line searches ask for the
    /// cost and then the gradient at the same point, and one pass yields both.
    last: &'a RefCell<Option<Evaluation>>,
}

/// A point in log-parameter space with its cost and gradient.
struct Evaluation {
    u: Vec<f64>,
    cost: f64,
    gradient: Vec<f64>,
}

impl LogSpace<'_> {
    fn cost_and_gradient(&self, u: &[f64], grad: Option<&mut [f64]>) -> f64 {
        if u.iter().any(|v| !v.is_finite() || v.abs() > 40.0) {
            return f64::INFINITY;
        }
        let theta = exp_all(u);
        let scale = -1.0 / self.objective.weight();
        match grad {
            Some(g) if self.objective.has_gradient() => {
                let ll = self.objective.log_likelihood(&theta, Some(g));
                // Chain rule for θ = e^u: d/du = θ d/dθ.
                g.iter_mut()
                    .zip(&theta)
                    .for_each(|(gi, t)| *gi *= t * scale);
                ll * scale
            }
            Some(g) => {
                self.numeric_gradient(u, g);
                self.cost_and_gradient(u, None)
            }
            None => self.objective.log_likelihood(&theta, None) * scale,
        }
    }

    fn numeric_gradient(&self, u: &[f64], g: &mut [f64]) {
        let h = 1e-6;
        let mut probe = u.to_vec();
        for i in 0..u.len() {
            probe[i] = u[i] + h;
            let up = self.cost_and_gradient(&probe, None);
            probe[i] = u[i] - h;
            let down = self.cost_and_gradient(&probe, None);
            probe[i] = u[i];
            g[i] = (up - down) / (2.0 * h);
        }
    }

    /// Cost and gradient at `u`, reusing the last evaluation when it was at the same point.
    fn evaluate(&self, u: &[f64]) -> (f64, Vec<f64>) {
        if let Some(e) = self.last.borrow().as_ref().filter(|e| e.u == u) {
            return (e.cost, e.gradient.clone());
        }
        let mut gradient = vec![0.0; u.len()];
        let cost = self.cost_and_gradient(u, Some(&mut gradient));
        let evaluation = Evaluation {
            u: u.to_vec(),
            cost,
            gradient: gradient.clone(),
        };
        *self.last.borrow_mut() = Some(evaluation);
        (cost, gradient)
    }

    fn gradient_vec(&self, u: &[f64]) -> Vec<f64> {
        let mut g = vec![0.0; u.len()];
        self.cost_and_gradient(u, Some(&mut g));
        g
    }

    fn max_gradient(&self, u: &[f64]) -> f64 {
        self.gradient_vec(u).iter().fold(0.0, |m, g| m.max(g.abs()))
    }

    /// Standard errors of θ by the delta method from the log-space Hessian of the total NLL.
    fn std_errors(&self, u: &[f64]) -> Vec<f64> {
        let n = u.len();
        let h = 1e-4;
        let mut hessian = vec![vec![0.0; n]; n];
        let mut probe = u.to_vec();
        for i in 0..n {
            probe[i] = u[i] + h;
            let up = self.gradient_vec(&probe);
            probe[i] = u[i] - h;
            let down = self.gradient_vec(&probe);
            probe[i] = u[i];
            for j in 0..n {
                hessian[i][j] = (up[j] - down[j]) / (2.0 * h) * self.objective.weight();
            }
        }
        symmetrise(&mut hessian);
        match invert(hessian) {
            Some(inv) => (0..n)
                .map(|i| u[i].exp() * positive_sqrt(inv[i][i]))
                .collect(),
            None => vec![f64::NAN; n],
        }
    }
}

/// Square root of a variance; NaN when the Hessian was not positive definite.
fn positive_sqrt(v: f64) -> f64 {
    if v > 0.0 { v.sqrt() } else { f64::NAN }
}

fn symmetrise(m: &mut [Vec<f64>]) {
    let n = m.len();
    for (i, j) in (0..n).flat_map(|i| (0..i).map(move |j| (i, j))) {
        let mean = 0.5 * (m[i][j] + m[j][i]);
        m[i][j] = mean;
        m[j][i] = mean;
    }
}

/// Gauss-Jordan inverse with partial pivoting; None when singular.
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(i == j)).collect())
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        a[col].iter_mut().for_each(|v| *v /= p);
        inv[col].iter_mut().for_each(|v| *v /= p);
        for row in 0..n {
            if row != col {
                let f = a[row][col];
                for k in 0..n {
                    a[row][k] -= f * a[col][k];
                    inv[row][k] -= f * inv[col][k];
                }
            }
        }
    }
    Some(inv)
}

impl CostFunction for LogSpace<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Self::Param) -> Result<f64, ArgminError> {
        if !self.objective.has_gradient() {
            return Ok(self.cost_and_gradient(u, None));
        }
        Ok(self.evaluate(u).0)
    }
}

impl Gradient for LogSpace<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, u: &Self::Param) -> Result<Vec<f64>, ArgminError> {
        Ok(self.evaluate(u).1)
    }
}
