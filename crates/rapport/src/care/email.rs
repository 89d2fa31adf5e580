//! A plan's e-mail made for one customer: subject, text and HTML from the plan's templates in a
//! plain layout, with a signed one-click unsubscribe link in the footer and in the
//! `List-Unsubscribe` headers (RFC 8058), so a customer can always stop them without logging in.

use askama::Template as _;

use crate::domain::link::LinkKey;
use crate::domain::plan::{CareContext, ContactCap, Reader, Template, escape_html_into};
use crate::domain::{CustomerId, Email};
use crate::store::NewMail;

/// The purpose unsubscribe links are signed for.
pub const UNSUBSCRIBE: &str = "unsubscribe";

/// What a run needs besides the store: the contact cap, how messages name the business and link
/// back to it, and the business's time zone.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The most messages one customer gets from every plan together.
    pub cap: ContactCap,
    /// How messages name the business and link back.
    pub mail: MailContext,
    /// The zone `schedule` plans' cron expressions are read in.
    pub time_zone: chrono_tz::Tz,
    /// Survey links' life and reminders.
    pub voice: crate::config::VoiceSettings,
}

impl RunSettings {
    /// From the loaded settings: `[care] contact_cap`, the business's name, `mail.public_url`.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        Self {
            cap: settings.care.contact_cap.clone(),
            mail: MailContext::from_settings(settings),
            time_zone: settings.business.time_zone,
            voice: settings.voice.clone(),
        }
    }
}

impl Default for RunSettings {
    /// The default cap, a business called "this shop" at the default bind address.
    fn default() -> Self {
        Self {
            cap: ContactCap::default(),
            mail: MailContext {
                public_url: "http://127.0.0.1:7878".to_owned(),
                business: "this shop".to_owned(),
            },
            time_zone: chrono_tz::Tz::UTC,
            voice: crate::config::VoiceSettings::default(),
        }
    }
}

/// How messages name the business and where their links lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContext {
    /// Where customers reach the server, without a trailing slash.
    pub public_url: String,
    /// The name customers know the business by.
    pub business: String,
}

impl MailContext {
    /// `business.name`, else the name or the address in `mail.from`, else "this shop".
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        let public_url = settings.mail.public_url_or(settings.server.bind);
        let from: Option<lettre::message::Mailbox> = settings.mail.from.parse().ok();
        let business = [
            Some(settings.business.name.trim().to_owned()),
            from.as_ref().and_then(|m| m.name.clone()),
            from.as_ref().map(|m| m.email.to_string()),
        ]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "this shop".to_owned());
        Self { public_url, business }
    }

    /// The link that unsubscribes this customer, naming the occurrence whose message carried it.
    pub fn unsubscribe_url(&self, key: &LinkKey, customer: CustomerId, occurrence: i64) -> String {
        let token = key.sign(UNSUBSCRIBE, &[&customer.0.to_string(), &occurrence.to_string()]);
        format!("{}/u/{token}", self.public_url)
    }
}

/// The templates of a plan's e-mail action.
pub struct EmailTemplates<'a> {
    /// The subject line.
    pub subject: &'a Template,
    /// The plain-text part.
    pub text: &'a Template,
    /// The HTML body, when the plan writes its own.
    pub html: Option<&'a Template>,
}

/// Who a message is for and why: the plan, its occurrence and the customer.
pub struct Recipient<'a> {
    /// The plan's number and name.
    pub plan: (i64, &'a str),
    /// The occurrence that fires.
    pub occurrence_id: i64,
    /// The customer.
    pub customer_id: CustomerId,
    /// What Rapport knows of them.
    pub context: &'a CareContext,
    /// Their address.
    pub to: Email,
    /// Why now, for staff.
    pub why: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "mail/plan.html")]
struct Layout<'a> {
    subject: &'a str,
    body: &'a str,
    business: &'a str,
    unsubscribe: &'a str,
}

/// The message a plan's e-mail action sends to one customer at `now`.
pub fn plan_mail(
    templates: &EmailTemplates<'_>,
    to: Recipient<'_>,
    context: &MailContext,
    key: &LinkKey,
    now: i64,
) -> NewMail {
    let (plan_id, plan) = to.plan;
    let render = |t: &Template, reader| t.render_for(reader, to.context, plan, now);
    // A subject is one line whatever a placeholder held.
    let subject = render(templates.subject, Reader::CustomerText)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let text = render(templates.text, Reader::CustomerText);
    let body = match templates.html {
        Some(html) => render(html, Reader::CustomerHtml),
        None => paragraphs(&text),
    };
    let unsubscribe = context.unsubscribe_url(key, to.customer_id, to.occurrence_id);
    let mut mail = customer_mail(
        Written {
            subject,
            text,
            html: body,
        },
        to.customer_id,
        to.to,
        context,
        &unsubscribe,
    );
    mail.plan = Some((plan_id, to.occurrence_id));
    mail.why = to.why;
    mail
}

/// A message's words, before the layout and the footer.
pub struct Written {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML body (inside the layout).
    pub html: String,
}

/// A message to a customer in the plain layout, with the unsubscribe link in its footer and its
/// `List-Unsubscribe` headers (RFC 8058); no plan and no reason set.
pub fn customer_mail(
    written: Written,
    customer_id: CustomerId,
    to: Email,
    context: &MailContext,
    unsubscribe: &str,
) -> NewMail {
    let html_body = Layout {
        subject: &written.subject,
        body: &written.html,
        business: &context.business,
        unsubscribe,
    }
    .render()
    .expect("the layout renders");
    let text_body = format!(
        "{}\n\n-- \nYou receive this e-mail from {}.\nUnsubscribe with one click: {unsubscribe}\n",
        written.text.trim_end(),
        context.business
    );
    NewMail {
        customer_id: Some(customer_id),
        to,
        subject: written.subject,
        text_body,
        html_body,
        headers: vec![
            ("List-Unsubscribe".to_owned(), format!("<{unsubscribe}>")),
            (
                "List-Unsubscribe-Post".to_owned(),
                "List-Unsubscribe=One-Click".to_owned(),
            ),
        ],
        plan: None,
        why: None,
    }
}

/// Plain text as HTML: a paragraph per blank-line-separated block, its line breaks kept.
pub fn paragraphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for block in text.split("\n\n").map(str::trim).filter(|b| !b.is_empty()) {
        out.push_str("<p>");
        for (i, line) in block.lines().enumerate() {
            if i > 0 {
                out.push_str("<br>\n");
            }
            escape_html_into(&mut out, line);
        }
        out.push_str("</p>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CustomerState;

    fn customer(name: Option<&str>) -> CareContext {
        CareContext {
            external_id: "C-1".into(),
            name: name.map(str::to_owned),
            email: Some("ana@example.com".into()),
            attributes: Default::default(),
            state: CustomerState::default(),
            score: None,
            last_contact_at: None,
            last_feedback: None,
        }
    }

    fn mail(name: Option<&str>, html: Option<&Template>) -> NewMail {
        let subject = Template::parse("Thank you, {first_name|friend}").unwrap();
        let text = Template::parse("Hello {first_name|there},\n\nthanks <3 & see you.\nAna's shop").unwrap();
        let context = MailContext {
            public_url: "https://shop.example.com".into(),
            business: "Ana's <shop>".into(),
        };
        let key = LinkKey::new(b"secret".to_vec());
        let templates = EmailTemplates {
            subject: &subject,
            text: &text,
            html,
        };
        let ctx = customer(name);
        let to = Recipient {
            plan: (3, "thank-you"),
            occurrence_id: 9,
            customer_id: CustomerId(7),
            context: &ctx,
            to: Email::parse("ana@example.com").unwrap(),
            why: Some("because".into()),
        };
        plan_mail(&templates, to, &context, &key, 0)
    }

    #[test]
    fn the_message_has_both_parts_the_link_and_the_headers() {
        let m = mail(Some("Ana <b>Lopez</b>"), None);
        assert_eq!(m.subject, "Thank you, Ana");
        assert!(
            m.text_body.starts_with("Hello Ana,\n\nthanks <3 & see you."),
            "{}",
            m.text_body
        );
        assert!(m.html_body.contains("<p>Hello Ana,</p>"), "{}", m.html_body);
        assert!(m.html_body.contains("thanks &lt;3 &amp; see you.<br>\nAna&#39;s shop"));
        assert!(
            m.html_body.contains("s &#60;shop&#62;."),
            "the layout escapes: {}",
            m.html_body
        );
        let url = m.headers[0].1.trim_matches(['<', '>']).to_owned();
        assert!(url.starts_with("https://shop.example.com/u/"));
        assert!(m.text_body.contains(&url) && m.html_body.contains(&url));
        let token = url.rsplit('/').next().unwrap();
        let fields = LinkKey::new(b"secret".to_vec()).verify(UNSUBSCRIBE, token).unwrap();
        assert_eq!(fields, ["7", "9"]);
        assert_eq!(m.headers[1].1, "List-Unsubscribe=One-Click");
        assert_eq!(m.plan, Some((3, 9)));
    }

    #[test]
    fn a_missing_name_takes_the_default_and_html_placeholders_are_escaped() {
        let m = mail(None, None);
        assert_eq!(m.subject, "Thank you, friend");
        assert!(m.text_body.starts_with("Hello there,"));
        let html = Template::parse("<h1>Hi {name|you}</h1>").unwrap();
        let m = mail(Some("<script>x</script>"), Some(&html));
        assert!(
            m.html_body.contains("<h1>Hi &lt;script&gt;x&lt;/script&gt;</h1>"),
            "{}",
            m.html_body
        );
    }
}
