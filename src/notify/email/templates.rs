//! The askama templates of every email body: one struct per body, text and HTML apart.
//!
//! askama picks the escaper from the file's extension: `.html` bodies escape every value
//! (incident text can never become markup), `.txt` bodies print values as they are, which is
//! right for text/plain. The structs hold display-ready strings only, so both bodies of one
//! message show the same words.

use askama::Template;

use super::view::EventView;

#[derive(Template)]
#[template(path = "email/confirmation/body.txt")]
pub(super) struct ConfirmationText<'a> {
    pub to: &'a str,
    pub confirm: &'a str,
    pub manage: &'a str,
    pub page: &'a str,
}

#[derive(Template)]
#[template(path = "email/confirmation/body.html")]
pub(super) struct ConfirmationHtml<'a> {
    pub subject: &'a str,
    pub to: &'a str,
    pub confirm: &'a str,
    pub manage: &'a str,
    pub page: &'a str,
}

#[derive(Template)]
#[template(path = "email/notification/body.txt")]
pub(super) struct NotificationText<'a> {
    pub view: &'a EventView,
    pub manage: &'a str,
    pub unsubscribe: &'a str,
    pub page: &'a str,
}

#[derive(Template)]
#[template(path = "email/notification/body.html")]
pub(super) struct NotificationHtml<'a> {
    pub subject: &'a str,
    pub view: &'a EventView,
    pub manage: &'a str,
    pub unsubscribe: &'a str,
    pub page: &'a str,
}

#[derive(Template)]
#[template(path = "email/endpoint_disabled/body.txt")]
pub(super) struct EndpointDisabledText<'a> {
    pub url: &'a str,
    pub reason: &'a str,
    pub manage: &'a str,
    pub page: &'a str,
}

#[derive(Template)]
#[template(path = "email/endpoint_disabled/body.html")]
pub(super) struct EndpointDisabledHtml<'a> {
    pub subject: &'a str,
    pub url: &'a str,
    pub reason: &'a str,
    pub manage: &'a str,
    pub page: &'a str,
}
