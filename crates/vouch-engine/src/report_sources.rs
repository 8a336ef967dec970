//! The seam between reports and the crates that own incidents and access-review
//! campaigns. `vouch-reports` sits below `vouch-incidents` and `vouch-signoff` in name
//! only (it does not depend on them); this function is where the engine, which may
//! depend on all three, hands reports their data. Until it returns an implementation
//! over those crates, the `incident` report is `not_available` and the
//! `access_review` report lists the evidence populations and says the campaigns'
//! source is not available.

use crate::reports::{ReportSources, Unwired};

/// The incident and access-review sources reports read.
///
/// To wire them: implement [`ReportSources`] for a unit struct here, calling
/// `vouch_incidents` (the period's incidents with SLA performance per severity) and
/// `vouch_signoff::review` (the period's campaigns and their decisions), returning
/// `Ok(Some(value))` in the shapes documented on the trait, and return it below.
pub fn sources() -> &'static dyn ReportSources {
    &Unwired
}
