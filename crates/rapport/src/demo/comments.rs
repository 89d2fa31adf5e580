//! What the demo's customers write in a survey's comment box: a few phrasings per theme, so the
//! themes recur the way real complaints and praise do, and a sentence about what happened to the
//! customer (their orders, how long since the last one, a call from the staff), so a quote reads
//! as that customer's and not as a template's.

use rand::Rng;
use rand::rngs::StdRng;

use crate::domain::survey::NpsCategory;

/// What went wrong with a customer's latest order, if anything: the detractors' themes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incident {
    /// It came late.
    Late,
    /// It took two weeks.
    Slow,
    /// Support was rude.
    Rude,
    /// It arrived broken.
    Broken,
    /// The customer found it too expensive.
    Price,
}

/// What the answering customer has lived through, as far as a comment mentions it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Story {
    /// Purchases so far.
    pub orders: i64,
    /// Days since the latest purchase, if any.
    pub days_since_purchase: Option<i64>,
    /// The latest order's trouble, if any.
    pub incident: Option<Incident>,
    /// The staff reached the customer (or fixed a problem) in the last three months.
    pub called: bool,
    /// The customer was unhappy at their previous answer and the staff reached them since.
    pub followed_up: bool,
}

static LATE: [&str; 4] = [
    "Late delivery again, and no word from you about it.",
    "The parcel came a week late. A late delivery is not what I pay for.",
    "Late delivery, and I had to chase it twice.",
    "My order arrived late and the tracking never updated.",
];
static SLOW: [&str; 3] = [
    "Delivery took two weeks.",
    "Delivery took two weeks for something the site said was in stock.",
    "I waited and waited: delivery took two weeks and nobody answered my e-mails.",
];
static RUDE: [&str; 3] = [
    "Rude support when I called about my order.",
    "Rude support on the phone, and they did not help at all.",
    "Rude support. I will think twice before ordering again.",
];
static BROKEN: [&str; 3] = [
    "The item arrived broken and the replacement took ages.",
    "Item arrived broken, the packaging was far too thin.",
    "My item arrived broken. Not the first time.",
];
static PRICE: [&str; 4] = [
    "Too expensive for what you get.",
    "Prices went up: too expensive now compared with other shops.",
    "Nice things but too expensive for me.",
    "Too expensive, and the shipping costs on top.",
];
static FRIENDLY: [&str; 3] = [
    "Friendly staff, always happy to help.",
    "The staff are so friendly, it makes a difference.",
    "Friendly staff on the phone and in the shop.",
];
static QUALITY: [&str; 3] = [
    "Great quality, it lasts for years.",
    "Great quality for the price.",
    "Everything I bought was great quality.",
];
static FAST: [&str; 3] = [
    "Fast delivery, well packed.",
    "Fast delivery and easy returns.",
    "Ordered on Monday, fast delivery by Wednesday.",
];
static ADVICE: [&str; 3] = [
    "Helpful advice when I was choosing a gift.",
    "They gave me helpful advice on sizes.",
    "Really helpful advice before I bought.",
];
static PASSIVE: [&str; 6] = [
    "Good products but a bit too expensive.",
    "Fine overall, delivery could be faster.",
    "Decent quality, nothing special.",
    "Mostly fine. Delivery was slow once.",
    "Friendly staff but the prices are high.",
    "Good quality, the website could be easier to use.",
];

/// The comment of a customer whose answer puts them in `category`, or `None` when they leave the
/// box empty (a promoter often does, a detractor seldom).
pub fn comment(rng: &mut StdRng, category: NpsCategory, story: &Story) -> Option<String> {
    let chance = match category {
        NpsCategory::Detractor => 0.8,
        NpsCategory::Passive => 0.5,
        NpsCategory::Promoter => 0.6,
    };
    if !rng.random_bool(chance) {
        return None;
    }
    let theme = match category {
        NpsCategory::Detractor => detractor_theme(rng, story),
        NpsCategory::Passive => &PASSIVE[..],
        NpsCategory::Promoter => promoter_theme(rng, story),
    };
    let said = pick(rng, theme);
    Some(match fact(rng, category, story) {
        Some(fact) if rng.random_bool(0.5) => format!("{fact} {said}"),
        Some(fact) => format!("{said} {fact}"),
        None => said.to_owned(),
    })
}

fn detractor_theme(rng: &mut StdRng, story: &Story) -> &'static [&'static str] {
    match story.incident {
        Some(Incident::Late) => &LATE,
        Some(Incident::Slow) => &SLOW,
        Some(Incident::Rude) => &RUDE,
        Some(Incident::Broken) => &BROKEN,
        Some(Incident::Price) => &PRICE,
        // Unhappy without a known cause: price is what quiet one-time buyers most often name.
        None if rng.random_bool(0.4) => &PRICE,
        None => [&PRICE[..], &LATE, &SLOW, &RUDE, &BROKEN][rng.random_range(0..5usize)],
    }
}

fn promoter_theme(rng: &mut StdRng, story: &Story) -> &'static [&'static str] {
    if (story.called || story.followed_up) && rng.random_bool(0.7) {
        return if rng.random_bool(0.5) { &FRIENDLY } else { &ADVICE };
    }
    if story.orders >= 3 && rng.random_bool(0.5) {
        return &QUALITY;
    }
    [&FRIENDLY[..], &QUALITY, &FAST, &ADVICE][rng.random_range(0..4usize)]
}

/// A sentence about what happened to the customer, when something worth saying did.
fn fact(rng: &mut StdRng, category: NpsCategory, story: &Story) -> Option<String> {
    let months = story.days_since_purchase.map(|days| days / 30).unwrap_or_default();
    let happy = category == NpsCategory::Promoter;
    if story.followed_up {
        return Some(if happy {
            "Your team called after my last answer and sorted it out.".to_owned()
        } else {
            "Someone called after my last answer, but nothing changed.".to_owned()
        });
    }
    if story.called && rng.random_bool(0.6) {
        return Some(if happy {
            pick(
                rng,
                &[
                    "Thanks for the call the other day.",
                    "The phone call from your team was a nice touch.",
                ],
            )
            .to_owned()
        } else {
            "Your team called me, but that does not fix it.".to_owned()
        });
    }
    match story.orders {
        n if n >= 4 && rng.random_bool(0.7) => Some(if happy {
            format!("I have ordered {n} times and never been let down.")
        } else {
            format!("I have ordered {n} times, it used to be better.")
        }),
        1 if months >= 4 => Some(format!("I ordered once, {months} months ago.")),
        1 if !happy => Some("It was my first order.".to_owned()),
        _ if months >= 6 => Some(format!("My last order was {months} months ago.")),
        _ => None,
    }
}

fn pick(rng: &mut StdRng, phrasings: &[&'static str]) -> &'static str {
    phrasings[rng.random_range(0..phrasings.len())]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn comments_are_short_tied_to_the_incident_and_sometimes_left_out() {
        let story = Story {
            orders: 5,
            days_since_purchase: Some(200),
            incident: Some(Incident::Slow),
            ..Default::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        let said: Vec<Option<String>> = (0..200)
            .map(|_| comment(&mut rng, NpsCategory::Detractor, &story))
            .collect();
        assert!(said.iter().any(Option::is_none));
        for text in said.iter().flatten() {
            assert!(
                text.len() < 300 && text.to_lowercase().contains("delivery took two weeks"),
                "{text}"
            );
        }
        assert!(said.iter().flatten().any(|text| text.contains("ordered 5 times")));
    }
}
