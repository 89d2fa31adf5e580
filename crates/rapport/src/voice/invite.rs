//! A survey's invitation for one customer: the personal link (signed, naming the invitation, the
//! survey, the customer and the expiry) and the e-mail that carries it. For a survey that opens
//! with a scale, the e-mail shows the scale's numbers as links, so the customer's first tap lands
//! on the page with their score chosen (a visit records nothing: mail scanners open links).

use crate::care::email::{self, MailContext, Written};
use crate::domain::link::LinkKey;
use crate::domain::plan::CareContext;
use crate::domain::plan::escape_html_into;
use crate::domain::survey::{BUSINESS, QuestionKind, SurveySpec};
use crate::domain::{CustomerId, Email};
use crate::store::{NewInvitation, NewMail, SurveyRecord, new_invitation_id};

/// The purpose personal survey links are signed for.
pub const SURVEY_LINK: &str = "survey";

/// The purpose a survey's anonymous link (for the counter, a QR code) is signed for.
pub const SURVEY_PUBLIC: &str = "survey-public";

/// What a personal link binds: the invitation, its survey, its customer and its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFields {
    /// The invitation's number.
    pub invitation: i64,
    /// The survey's name.
    pub survey: String,
    /// The customer it is for.
    pub customer: CustomerId,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
}

impl LinkFields {
    /// The token of the link.
    pub fn sign(&self, key: &LinkKey) -> String {
        key.sign(
            SURVEY_LINK,
            &[
                &self.invitation.to_string(),
                &self.survey,
                &self.customer.0.to_string(),
                &self.expires_at.to_string(),
            ],
        )
    }

    /// The fields of a token `sign` made with this key; `None` for any other text.
    pub fn verify(key: &LinkKey, token: &str) -> Option<Self> {
        let fields = key.verify(SURVEY_LINK, token).ok()?;
        let [invitation, survey, customer, expires_at] = fields.as_slice() else {
            return None;
        };
        Some(Self {
            invitation: invitation.parse().ok()?,
            survey: survey.clone(),
            customer: CustomerId(customer.parse().ok()?),
            expires_at: expires_at.parse().ok()?,
        })
    }

    /// The page's address.
    pub fn url(&self, context: &MailContext, key: &LinkKey) -> String {
        format!("{}/s/{}", context.public_url, self.sign(key))
    }
}

/// The token of a survey's anonymous link: anyone with it may answer, as nobody in particular.
pub fn public_token(key: &LinkKey, survey: &str) -> String {
    key.sign(SURVEY_PUBLIC, &[survey])
}

/// A survey's anonymous link: anyone who follows it answers as nobody in particular (for the
/// counter, a receipt, a poster).
pub fn public_url(context: &MailContext, key: &LinkKey, survey: &str) -> String {
    format!("{}/s/{}", context.public_url, public_token(key, survey))
}

/// A QR code of `url` as an SVG document, black on white with its quiet zone, at least 240 pixels
/// square; `None` for a URL too long to encode.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
    )
}

/// The survey an anonymous token names; `None` for any other text.
pub fn verify_public(key: &LinkKey, token: &str) -> Option<String> {
    let fields = key.verify(SURVEY_PUBLIC, token).ok()?;
    match fields.as_slice() {
        [survey] => Some(survey.clone()),
        _ => None,
    }
}

/// One invitation's e-mail, before it is queued.
pub struct Invitation<'a> {
    /// The survey as the page will show it.
    pub survey: &'a SurveySpec,
    /// What the link binds.
    pub link: &'a LinkFields,
    /// The customer's first name, when known.
    pub first_name: Option<&'a str>,
    /// Their address.
    pub to: Email,
    /// A reminder says so in its subject.
    pub reminder: bool,
    /// When it is written: the e-mail says how many days the link has left.
    pub now: i64,
}

/// The e-mail of an invitation (or its reminder): signed with `survey_key` for the survey link
/// and `unsubscribe_key` for the footer's.
pub fn invitation_mail(
    invite: Invitation<'_>,
    context: &MailContext,
    survey_key: &LinkKey,
    unsubscribe_key: &LinkKey,
) -> NewMail {
    let url = invite.link.url(context, survey_key);
    let survey = invite.survey;
    let question = survey
        .questions
        .first()
        .map(|q| q.text.replace(BUSINESS, &context.business));
    let greeting = format!("Hello {},", invite.first_name.unwrap_or("there"));
    let subject = if invite.reminder {
        format!("Reminder: {}", survey.title)
    } else {
        survey.title.clone()
    };
    let days = (invite.link.expires_at - invite.now).max(86_400) / 86_400;
    let closing = format!(
        "It takes a minute, and the link works for {days} more days. Thank you,\n{}",
        context.business
    );
    let mut text = format!("{greeting}\n\n");
    let mut html = String::new();
    html.push_str("<p>");
    escape_html_into(&mut html, &greeting);
    html.push_str("</p>\n");
    if let Some(question) = &question {
        text.push_str(&format!("{question}\n\n"));
        html.push_str("<p><strong>");
        escape_html_into(&mut html, question);
        html.push_str("</strong></p>\n");
    }
    text.push_str(&format!("Answer here: {url}\n\n{closing}\n"));
    if let Some(QuestionKind::Scale { min, max, low, high }) = survey.questions.first().map(|q| &q.kind) {
        html.push_str(&scale_links(&url, *min, *max, low.as_deref(), high.as_deref()));
    }
    html.push_str(&format!(
        "<p><a href=\"{url}\" style=\"color:#1a5fb4\">Answer the survey</a></p>\n"
    ));
    html.push_str(&email::paragraphs(&closing));
    let unsubscribe = context.unsubscribe_url(unsubscribe_key, invite.link.customer, invite.link.invitation);
    email::customer_mail(
        Written { subject, text, html },
        invite.link.customer,
        invite.to,
        context,
        &unsubscribe,
    )
}

/// A new personal link to `survey` for `customer`, working until `expires_at`.
pub fn new_invitation(survey: &SurveyRecord, customer: CustomerId, expires_at: i64) -> NewInvitation {
    NewInvitation {
        id: new_invitation_id(),
        survey_id: survey.id,
        version: survey.version,
        customer_id: customer,
        expires_at,
    }
}

/// How a survey e-mail names the business, and the keys that sign its two links.
pub struct LinkKeys<'a> {
    /// The business's name and public address.
    pub mail: &'a MailContext,
    /// The survey link's.
    pub survey: &'a LinkKey,
    /// The footer's unsubscribe link's.
    pub unsubscribe: &'a LinkKey,
}

/// The e-mail of `invitation` (or, with `reminder`, its reminder) to the customer `customer`
/// describes, at address `to`: the one way plans and sends by hand write survey e-mails.
pub fn survey_mail(
    survey: &SurveyRecord,
    invitation: &NewInvitation,
    customer: &CareContext,
    to: Email,
    reminder: bool,
    keys: LinkKeys<'_>,
    now: i64,
) -> NewMail {
    let link = LinkFields {
        invitation: invitation.id,
        survey: survey.spec.name.clone(),
        customer: invitation.customer_id,
        expires_at: invitation.expires_at,
    };
    let invite = Invitation {
        survey: &survey.spec,
        link: &link,
        first_name: customer.name.as_deref().and_then(|n| n.split_whitespace().next()),
        to,
        reminder,
        now,
    };
    invitation_mail(invite, keys.mail, keys.survey, keys.unsubscribe)
}

/// The scale's numbers as a row of links, the ends labelled.
fn scale_links(url: &str, min: i64, max: i64, low: Option<&str>, high: Option<&str>) -> String {
    let mut html = String::from("<p style=\"margin:8px 0\">");
    for score in min..=max {
        html.push_str(&format!(
            "<a href=\"{url}?score={score}\" style=\"display:inline-block;min-width:28px;margin:2px;padding:6px 4px;\
             text-align:center;border:1px solid #999;border-radius:4px;color:#222;text-decoration:none\">{score}</a>"
        ));
    }
    html.push_str("</p>\n");
    if low.is_some() || high.is_some() {
        html.push_str("<p style=\"font-size:13px;color:#555;margin:0 0 12px\">");
        escape_html_into(&mut html, &format!("{min}: {}", low.unwrap_or("")));
        html.push_str(" &middot; ");
        escape_html_into(&mut html, &format!("{max}: {}", high.unwrap_or("")));
        html.push_str("</p>\n");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_carries_its_fields_and_refuses_a_changed_byte_or_another_purpose() {
        let key = LinkKey::new(b"k".to_vec());
        let fields = LinkFields {
            invitation: 42,
            survey: "nps".into(),
            customer: CustomerId(7),
            expires_at: 1_900_000_000,
        };
        let token = fields.sign(&key);
        assert_eq!(LinkFields::verify(&key, &token), Some(fields.clone()));
        let mut changed = token.clone().into_bytes();
        changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(LinkFields::verify(&key, &String::from_utf8(changed).unwrap()), None);
        assert_eq!(
            verify_public(&key, &token),
            None,
            "a personal link is not an anonymous one"
        );
        assert_eq!(verify_public(&key, &public_token(&key, "nps")).as_deref(), Some("nps"));
        assert_eq!(LinkFields::verify(&LinkKey::new(b"other".to_vec()), &token), None);
    }

    #[test]
    fn a_qr_code_is_an_svg_document_and_a_url_too_long_has_none() {
        let svg = qr_svg("https://shop.example.com/s/abc").unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(qr_svg(&"x".repeat(8_000)).is_none());
    }

    #[test]
    fn the_mail_shows_the_question_the_scale_as_links_and_both_links() {
        let survey = SurveySpec::built_in().remove(0);
        let key = LinkKey::new(b"k".to_vec());
        let link = LinkFields {
            invitation: 42,
            survey: "nps".into(),
            customer: CustomerId(7),
            expires_at: 1_000 + 30 * 86_400,
        };
        let context = MailContext {
            public_url: "https://shop.example.com".into(),
            business: "Ana's <shop>".into(),
        };
        let mail = invitation_mail(
            Invitation {
                survey: &survey,
                link: &link,
                first_name: Some("Ana"),
                to: Email::parse("ana@example.com").unwrap(),
                reminder: true,
                now: 1_000,
            },
            &context,
            &key,
            &key,
        );
        assert_eq!(mail.subject, "Reminder: One quick question");
        let url = link.url(&context, &key);
        assert!(
            mail.text_body.contains(&format!("Answer here: {url}")),
            "{}",
            mail.text_body
        );
        assert!(mail.text_body.contains("recommend Ana's <shop> to a friend"));
        assert!(
            mail.html_body.contains("recommend Ana&#39;s &lt;shop&gt; to a friend"),
            "{}",
            mail.html_body
        );
        assert!(
            mail.html_body.contains(&format!("{url}?score=0\""))
                && mail.html_body.contains(&format!("{url}?score=10\""))
        );
        assert!(mail.text_body.contains("/u/"), "the footer's unsubscribe link");
        assert!(mail.text_body.contains("works for 30 more days"), "{}", mail.text_body);
    }
}
