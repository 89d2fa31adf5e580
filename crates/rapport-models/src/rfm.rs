//! RFM quintile scores and the named segments of the usual R-F grid.

use serde::{Deserialize, Serialize};

use crate::summary::CustomerSummary;

/// A named RFM segment, from the recency and frequency scores.
///
/// The grid (R = recency score, F = frequency score, 5 best), as widely used in RFM
/// practice, with "lost" split off the bottom corner of "hibernating":
///
/// | segment            | R   | F   |
/// |--------------------|-----|-----|
/// | champions          | 5   | 4-5 |
/// | loyal              | 3-4 | 4-5 |
/// | potential loyalist | 4-5 | 2-3 |
/// | new                | 5   | 1   |
/// | promising          | 4   | 1   |
/// | needs attention    | 3   | 3   |
/// | about to sleep     | 3   | 1-2 |
/// | at risk            | 1-2 | 3-4 |
/// | cannot lose        | 1-2 | 5   |
/// | hibernating        | 1-2 | 1-2 (except lost) |
/// | lost               | 1   | 1   |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Bought recently and often.
    Champions,
    /// Buy often, fairly recently.
    Loyal,
    /// Recent customers with a few purchases.
    PotentialLoyalist,
    /// Bought for the first time very recently.
    New,
    /// Recent, but only one purchase so far.
    Promising,
    /// Middling recency and frequency.
    NeedsAttention,
    /// Below-average recency and few purchases.
    AboutToSleep,
    /// Bought often, but not for a long time.
    AtRisk,
    /// Were the best customers, but not seen for a long time.
    CannotLose,
    /// Few purchases, long ago.
    Hibernating,
    /// One purchase, longest ago.
    Lost,
}

/// A customer's quintile scores (1-5, 5 best) and segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RfmScore {
    /// The customer's index, copied from the summary.
    pub customer: u32,
    /// Recency score: 5 for the most recent buyers.
    pub recency: u8,
    /// Frequency score: 5 for the most frequent buyers.
    pub frequency: u8,
    /// Monetary score: 5 for the highest mean spend per purchase.
    pub monetary: u8,
    /// Named segment from the recency and frequency scores.
    pub segment: Segment,
}

impl Segment {
    /// The name as serialised and stored (`potential_loyalist`).
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::PotentialLoyalist => "potential_loyalist",
            Segment::New => "new",
            Segment::Promising => "promising",
            Segment::NeedsAttention => "needs_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CannotLose => "cannot_lose",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }

    /// Every segment, best first.
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedsAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CannotLose,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// The segment of a recency and a frequency score (each 1-5; see the grid above).
    pub fn from_scores(recency: u8, frequency: u8) -> Segment {
        match (recency, frequency) {
            (5, 4..) => Segment::Champions,
            (3..=4, 4..) => Segment::Loyal,
            (4..=5, 2..=3) => Segment::PotentialLoyalist,
            (5, _) => Segment::New,
            (4, _) => Segment::Promising,
            (3, 3) => Segment::NeedsAttention,
            (3, _) => Segment::AboutToSleep,
            (..=2, 5..) => Segment::CannotLose,
            (..=2, 3..=4) => Segment::AtRisk,
            (..=1, ..=1) => Segment::Lost,
            _ => Segment::Hibernating,
        }
    }

    /// The segment told with the customer's P(alive), so a row never says two contradicting
    /// things: quintiles rank a customer against everyone, P(alive) against their own habits.
    /// A customer likely gone (P(alive) below 0.5) is never in a thriving segment: a frequent
    /// buyer becomes "at risk", others "about to sleep", or "hibernating" ("lost" after a single
    /// purchase) once the chance is below 0.2. A customer almost surely active (above 0.9) is
    /// never "lost" or "hibernating": their silence is a pause, so "about to sleep" or, for a
    /// frequent buyer, "needs attention".
    pub fn consistent_with(self, p_alive: f64, frequency_score: u8) -> Segment {
        let frequent = frequency_score >= 3;
        let thriving = matches!(
            self,
            Segment::Champions
                | Segment::Loyal
                | Segment::NeedsAttention
                | Segment::PotentialLoyalist
                | Segment::New
                | Segment::Promising
                | Segment::AboutToSleep
        );
        match self {
            _ if thriving && p_alive < 0.5 && frequent => Segment::AtRisk,
            _ if thriving && p_alive < 0.2 && frequency_score <= 1 => Segment::Lost,
            _ if thriving && p_alive < 0.2 => Segment::Hibernating,
            Segment::AboutToSleep => self,
            _ if thriving && p_alive < 0.5 => Segment::AboutToSleep,
            Segment::Lost | Segment::Hibernating if p_alive > 0.9 => {
                if frequent {
                    Segment::NeedsAttention
                } else {
                    Segment::AboutToSleep
                }
            }
            other => other,
        }
    }

    /// The name files and JSON use, e.g. `needs_attention` (as serde writes it).
    pub fn key(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::Loyal => "loyal",
            Segment::PotentialLoyalist => "potential_loyalist",
            Segment::New => "new",
            Segment::Promising => "promising",
            Segment::NeedsAttention => "needs_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CannotLose => "cannot_lose",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }

    /// A label for people, e.g. "Needs attention".
    pub fn label(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::Loyal => "Loyal",
            Segment::PotentialLoyalist => "Potential loyalist",
            Segment::New => "New",
            Segment::Promising => "Promising",
            Segment::NeedsAttention => "Needs attention",
            Segment::AboutToSleep => "About to sleep",
            Segment::AtRisk => "At risk",
            Segment::CannotLose => "Cannot lose",
            Segment::Hibernating => "Hibernating",
            Segment::Lost => "Lost",
        }
    }
}

/// Scores every customer by quintiles of recency, frequency and mean spend per purchase.
///
/// Recency is the time since the last purchase (shorter is better), frequency the
/// repeat count, monetary the calibration spend per purchase day. A score is
/// 1 + ⌊5 × (share of customers strictly worse)⌋, so tied customers share a score and
/// the worst value always scores 1 (one-time buyers all get F = 1).
pub fn rfm_scores(customers: &[CustomerSummary]) -> Vec<RfmScore> {
    let recency = quintiles(customers.iter().map(|c| -(c.age - c.recency)));
    let frequency = quintiles(customers.iter().map(|c| f64::from(c.frequency)));
    let monetary = quintiles(customers.iter().map(|c| c.total_spend / f64::from(c.frequency + 1)));
    customers
        .iter()
        .enumerate()
        .map(|(i, c)| RfmScore {
            customer: c.customer,
            recency: recency[i],
            frequency: frequency[i],
            monetary: monetary[i],
            segment: Segment::from_scores(recency[i], frequency[i]),
        })
        .collect()
}

/// Quintile score of each value (higher values score higher).
///
/// 1 + ⌊5 × worse / n⌋ ≥ k + 1 exactly when the value exceeds the ⌈k n / 5⌉-th smallest,
/// so four order statistics (linear-time selection) replace a full sort.
fn quintiles(values: impl Iterator<Item = f64>) -> Vec<u8> {
    let values: Vec<f64> = values.collect();
    let n = values.len();
    let mut scratch = values.clone();
    let mut thresholds = [f64::INFINITY; 4];
    let mut done = 0;
    for (k, threshold) in (1..=4).zip(thresholds.iter_mut()) {
        let Some(position) = (k * n).div_ceil(5).checked_sub(1) else {
            continue;
        };
        if position < done {
            *threshold = scratch[position];
            continue;
        }
        let (_, nth, _) = scratch[done..].select_nth_unstable_by(position - done, f64::total_cmp);
        *threshold = *nth;
        done = position;
    }
    values
        .iter()
        .map(|v| 1 + thresholds.iter().filter(|t| v > t).count() as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_are_their_serde_names() {
        for segment in Segment::ALL {
            assert_eq!(serde_json::to_value(segment).unwrap(), segment.as_str());
        }
    }

    #[test]
    fn a_segments_key_is_its_serde_name() {
        for segment in Segment::ALL {
            assert_eq!(serde_json::to_value(segment).unwrap(), segment.key());
        }
    }

    #[test]
    fn no_segment_contradicts_p_alive() {
        for segment in Segment::ALL {
            for frequency in 1..=5 {
                for p in [0.0, 0.3, 0.49, 0.5, 0.7, 0.9, 0.95, 1.0] {
                    let told = segment.consistent_with(p, frequency);
                    let thriving = matches!(told, Segment::Champions | Segment::Loyal | Segment::PotentialLoyalist);
                    assert!(!(thriving && p < 0.5), "{segment:?} at {p} became {told:?}");
                    let gone = matches!(told, Segment::Lost | Segment::Hibernating);
                    assert!(!(gone && p > 0.9), "{segment:?} at {p} became {told:?}");
                }
            }
        }
    }

    #[test]
    fn segments_that_agree_with_p_alive_stay() {
        assert_eq!(Segment::Champions.consistent_with(0.8, 5), Segment::Champions);
        assert_eq!(Segment::Lost.consistent_with(0.2, 1), Segment::Lost);
        assert_eq!(Segment::Champions.consistent_with(0.3, 5), Segment::AtRisk);
        assert_eq!(Segment::Lost.consistent_with(0.95, 1), Segment::AboutToSleep);
        assert_eq!(Segment::AboutToSleep.consistent_with(0.05, 1), Segment::Lost);
        assert_eq!(Segment::Promising.consistent_with(0.3, 1), Segment::AboutToSleep);
        assert_eq!(Segment::Loyal.consistent_with(0.1, 4), Segment::AtRisk);
    }
}
