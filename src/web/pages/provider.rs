//! A provider's page `/providers/{id}`: every one of its models with the front page's row
//! (state, routing, latency sparkline, 90-day bars). The front page collapses providers with
//! many models to a line of counts that links here (see [`super::index`]).

use askama::Template;

use super::incident::render_failed;
use super::index::{state_counts, ModelRow};
use super::{state_view, Layout, StateView};
use crate::web::snapshot::{ProviderView, PublicSnapshot, HISTORY_DAYS};

#[derive(Template)]
#[template(path = "public/provider.html")]
pub struct ProviderPage {
    pub layout: Layout,
    pub name: String,
    pub state: StateView,
    /// "97 operational, 2 degraded performance, 1 unknown".
    pub counts: String,
    /// Every model, in configuration order.
    pub models: Vec<ModelRow>,
    pub days: i64,
}

pub fn render(snapshot: &PublicSnapshot, p: &ProviderView) -> String {
    let page = ProviderPage {
        layout: Layout::new(
            snapshot,
            p.name.clone(),
            format!(
                "Live health of every {} model {} watches",
                p.name, snapshot.page_name
            ),
            "",
        ),
        name: p.name.clone(),
        state: state_view(p.state),
        counts: state_counts(p.models.iter()),
        models: p
            .models
            .iter()
            .map(|m| ModelRow::new(snapshot, m))
            .collect(),
        days: HISTORY_DAYS,
    };
    page.render().unwrap_or_else(|e| render_failed(&e))
}
