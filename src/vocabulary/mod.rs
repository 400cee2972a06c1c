//! The words every layer shares, and nothing else: a leaf module that imports nothing from
//! the rest of the crate, so `probe`, `store`, `evaluate`, `notify` and `web` can all use it
//! without importing one another.
//!
//! - [`Outcome`]: how one probe ended;
//! - [`ModelState`] and [`Tracker`]: a model's state and since when it holds;
//! - [`Evidence`]: the figures behind a decision;
//! - [`IncidentStatus`];
//! - [`ActiveOverride`] and [`Window`]: decisions people make by hand;
//! - [`Kind`], [`Format`], [`Status`], [`Filter`]: subscriptions;
//! - [`Observation`]: one request of the application's own traffic;
//! - [`Event`]: every announced event, one variant per type, versioned.
//!
//! **Architecture invariant:** nothing here imports `crate::` outside `vocabulary`.

pub mod event;
pub mod evidence;
pub mod incident;
pub mod manual;
pub mod observation;
pub mod outcome;
pub mod state;
pub mod subscription;

pub use event::{Event, EventBody};
pub use evidence::{
    Baseline, Evidence, ExtraProbes, SourceFigure, TestFigure, TrafficEvidence, VantageFigure,
};
pub use incident::IncidentStatus;
pub use manual::{ActiveOverride, Window, WindowStatus};
pub use observation::Observation;
pub use outcome::Outcome;
pub use state::{ModelState, Tracker};
pub use subscription::{Filter, Format, Kind, Status, PUBLIC_EVENTS};
