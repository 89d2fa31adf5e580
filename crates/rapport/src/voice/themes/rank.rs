//! How much more detractors mention a theme than promoters: the log-odds ratio with an
//! informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words"), the prior being
//! the whole corpus. Raw ratios crown rare words (one detractor, no promoter: infinite odds);
//! the prior pulls every theme towards its corpus-wide rate, and dividing by the standard error
//! turns the difference into a z-score that needs both a big gap and many mentions to be large.
//!
//! Counts are of comments (each counted once), and the two "corpora" are the detractors' and the
//! promoters' comments; passives and uncategorised comments count only in the prior.

use super::CategoryCounts;

/// The sizes the log-odds are taken against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prior {
    /// Mentions of every term by detractors (n_i).
    detractors: f64,
    /// Mentions of every term by promoters (n_j).
    promoters: f64,
    /// Mentions of every term by anyone: the prior's total weight (α₀).
    everyone: f64,
}

impl Prior {
    /// The prior from the tallies of every term of the corpus.
    pub(super) fn of<'a>(terms: impl IntoIterator<Item = &'a CategoryCounts>) -> Self {
        let mut prior = Prior {
            detractors: 0.0,
            promoters: 0.0,
            everyone: 0.0,
        };
        for counts in terms {
            prior.detractors += f64::from(counts.detractors);
            prior.promoters += f64::from(counts.promoters);
            prior.everyone += f64::from(counts.total());
        }
        prior
    }

    /// The z-score of a term's counts: above 0 when detractors mention it more than promoters.
    /// It is 0 for a term nobody mentions, or one that is all the corpus says (no odds to take).
    pub(super) fn z(&self, counts: &CategoryCounts) -> f64 {
        // The term's prior weight (α_w) is its corpus-wide count.
        let alpha = f64::from(counts.total());
        let (detractors, promoters) = (f64::from(counts.detractors), f64::from(counts.promoters));
        let rest_detractors = self.detractors + self.everyone - detractors - alpha;
        let rest_promoters = self.promoters + self.everyone - promoters - alpha;
        if alpha <= 0.0 || rest_detractors <= 0.0 || rest_promoters <= 0.0 {
            return 0.0;
        }
        let delta = ((detractors + alpha) / rest_detractors).ln() - ((promoters + alpha) / rest_promoters).ln();
        let variance = 1.0 / (detractors + alpha) + 1.0 / (promoters + alpha);
        delta / variance.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(detractors: u32, passives: u32, promoters: u32) -> CategoryCounts {
        CategoryCounts {
            detractors,
            passives,
            promoters,
            uncategorised: 0,
        }
    }

    #[test]
    fn z_matches_a_hand_computation() {
        // Two terms: "late" (8 detractors, 1 passive, 1 promoter) and "friend" (2, 0, 9).
        // n_i = 10, n_j = 10, α₀ = 10 + 11 = 21. For "late", α = 10:
        // δ = ln((8 + 10) / (10 + 21 - 8 - 10)) - ln((1 + 10) / (10 + 21 - 1 - 10))
        //   = ln(18 / 13) - ln(11 / 20) = 0.325422 - (-0.597837) = 0.923259;
        // σ² = 1/18 + 1/11 = 0.146465, σ = 0.382707; z = 2.412445.
        let late = counts(8, 1, 1);
        let prior = Prior::of(&[late, counts(2, 0, 9)]);
        assert!((prior.z(&late) - 2.412445).abs() < 1e-5, "{}", prior.z(&late));
    }

    #[test]
    fn a_term_said_by_one_side_only_ranks_by_how_often() {
        let prior = Prior::of(&[counts(2, 0, 0), counts(40, 0, 0), counts(0, 0, 60), counts(10, 0, 10)]);
        let (rare, common) = (prior.z(&counts(2, 0, 0)), prior.z(&counts(40, 0, 0)));
        assert!(0.0 < rare && rare < common, "{rare} {common}");
        assert!(prior.z(&counts(0, 0, 60)) < 0.0);
    }

    #[test]
    fn nothing_to_compare_gives_zero() {
        let only = counts(3, 0, 0);
        assert_eq!(Prior::of(&[only]).z(&only), 0.0);
        assert_eq!(Prior::of(&[only]).z(&CategoryCounts::default()), 0.0);
    }
}
