//! PLACEHOLDER: being written.

use super::site::Rendered;
use super::snapshot::PublicSnapshot;

/// Renders this surface's bodies from one snapshot.
pub fn render(_snapshot: &PublicSnapshot) -> Vec<Rendered> {
    Vec::new()
}
