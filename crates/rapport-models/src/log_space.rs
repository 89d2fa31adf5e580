//! The optimiser's view of a likelihood: mean negative log-likelihood of log-parameters,
//! argmin's L-BFGS and Nelder-Mead on it, and standard errors from its Hessian.

use std::cell::RefCell;

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;

use crate::fit::Objective;

pub(crate) fn exp_all(u: &[f64]) -> Vec<f64> {
    u.iter().map(|v| v.exp()).collect()
}

pub(crate) fn run_lbfgs(problem: &LogSpace<'_>, u: Vec<f64>, max_iters: u64) -> Option<(Vec<f64>, u64)> {
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

pub(crate) fn run_nelder_mead(problem: &LogSpace<'_>, u: &[f64], max_iters: u64) -> Option<(Vec<f64>, u64)> {
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
pub(crate) struct LogSpace<'a> {
    pub objective: &'a dyn Objective,
    /// The last point evaluated with its cost and gradient: line searches ask for the
    /// cost and then the gradient at the same point, and one pass yields both.
    pub last: &'a RefCell<Option<Evaluation>>,
}

/// A point in log-parameter space with its cost and gradient.
pub(crate) struct Evaluation {
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
                g.iter_mut().zip(&theta).for_each(|(gi, t)| *gi *= t * scale);
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

    pub(crate) fn max_gradient(&self, u: &[f64]) -> f64 {
        self.gradient_vec(u).iter().fold(0.0, |m, g| m.max(g.abs()))
    }

    /// Standard errors of θ by the delta method from the log-space Hessian of the total NLL.
    pub(crate) fn std_errors(&self, u: &[f64]) -> Vec<f64> {
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
            Some(inv) => (0..n).map(|i| u[i].exp() * positive_sqrt(inv[i][i])).collect(),
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
pub(crate) fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut inv: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| f64::from(i == j)).collect()).collect();
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
