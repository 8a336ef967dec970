//! The route table: method, path, the permission it needs, what the OpenAPI document
//! says about it, and its handler. The router ([`crate::router`] is built from it), the
//! authorization middleware, the OpenAPI document and the roles-matrix test all read
//! this one table, so a route cannot exist in one and not the others.

use crate::dashboard;
use crate::handlers::{
    access_reviews, archives, attestations, audit_logs, auditor, checks, evidence, findings,
    health, incidents, jobs, ledger, packets, reports, session, status,
};
use crate::roles::Perm;
use crate::App;
use axum::http::Method;
use axum::routing::{on, MethodFilter, MethodRouter};

/// A parameter as the OpenAPI document describes it.
pub struct Param {
    /// The parameter's name.
    pub name: &'static str,
    /// `query` or `path`.
    pub location: &'static str,
    /// Its JSON Schema type (`string`, `integer`).
    pub schema: &'static str,
    /// Whether it must be given.
    pub required: bool,
}

/// Builds a route's method router: its handler for the given method.
pub type Handler = fn(MethodFilter) -> MethodRouter<App>;

/// One endpoint.
pub struct Route {
    /// `GET`, `POST` or `PATCH`.
    pub method: &'static str,
    /// The axum path template (`{id}`, `{*path}`).
    pub path: &'static str,
    /// The permission a caller's role needs.
    pub perm: Perm,
    /// The OpenAPI summary.
    pub summary: &'static str,
    /// The OpenAPI parameters.
    pub params: &'static [Param],
    /// A JSON request body is expected.
    pub body: bool,
    /// Response media type.
    pub produces: &'static str,
    /// The handler, for the router.
    pub handler: Handler,
}

impl Route {
    /// The method as axum's filter.
    pub fn method_filter(&self) -> MethodFilter {
        Method::from_bytes(self.method.as_bytes())
            .ok()
            .and_then(|m| MethodFilter::try_from(m).ok())
            .unwrap_or_else(|| panic!("route {} {}: unknown method", self.method, self.path))
    }

    /// The method router serving this route.
    pub fn method_router(&self) -> MethodRouter<App> {
        (self.handler)(self.method_filter())
    }
}

const fn q(name: &'static str, schema: &'static str) -> Param {
    Param {
        name,
        location: "query",
        schema,
        required: false,
    }
}
const fn qr(name: &'static str, schema: &'static str) -> Param {
    Param {
        name,
        location: "query",
        schema,
        required: true,
    }
}
const fn p(name: &'static str) -> Param {
    Param {
        name,
        location: "path",
        schema: "string",
        required: true,
    }
}

const AUDIT_FILTERS: &[Param] = &[
    q("organization_id", "string"),
    q("actor_id", "string"),
    q("action", "string"),
    q("resource_type", "string"),
    q("category", "string"),
    q("result", "string"),
    q("start_date", "string"),
    q("end_date", "string"),
    q("page", "integer"),
    q("per_page", "integer"),
    q("cursor", "integer"),
];
const EXPORT_FILTERS: &[Param] = &[
    q("organization_id", "string"),
    q("actor_id", "string"),
    q("action", "string"),
    q("resource_type", "string"),
    q("category", "string"),
    q("result", "string"),
    q("start_date", "string"),
    q("end_date", "string"),
    q("format", "string"),
    q("cursor", "integer"),
];

/// Where the API lives (seed endpoint names).
pub const BASE: &str = "/api/compliance";

/// Every endpoint; the router serves exactly these.
pub const ROUTES: &[Route] = &[
    Route { method: "GET", path: "/healthz", perm: Perm::Public, summary: "Liveness", params: &[], body: false, produces: "application/json", handler: |m| on(m, health::healthz) },
    Route { method: "GET", path: "/readyz", perm: Perm::Public, summary: "Readiness: the database answers", params: &[], body: false, produces: "application/json", handler: |m| on(m, health::readyz) },
    Route { method: "GET", path: "/metrics", perm: Perm::Public, summary: "Prometheus metrics (text format)", params: &[], body: false, produces: "text/plain", handler: |m| on(m, health::metrics) },
    Route { method: "GET", path: "/openapi.json", perm: Perm::Public, summary: "This document", params: &[], body: false, produces: "application/json", handler: |m| on(m, health::openapi) },
    Route { method: "POST", path: "/api/compliance/auth/login", perm: Perm::Public, summary: "Log in a local user (password, then TOTP code once enrolled); returns a session token", params: &[], body: true, produces: "application/json", handler: |m| on(m, session::login) },
    Route { method: "GET", path: "/api/compliance/auth/whoami", perm: Perm::Authenticated, summary: "The caller's identity and role", params: &[], body: false, produces: "application/json", handler: |m| on(m, session::whoami) },
    Route { method: "POST", path: "/api/compliance/auth/logout", perm: Perm::Authenticated, summary: "End the caller's session", params: &[], body: false, produces: "application/json", handler: |m| on(m, session::logout) },
    Route { method: "POST", path: "/api/compliance/auth/password", perm: Perm::Authenticated, summary: "Change the caller's password (current password, and a code once TOTP is on); other sessions end", params: &[], body: true, produces: "application/json", handler: |m| on(m, session::change_password) },
    Route { method: "POST", path: "/api/compliance/auth/totp/enroll", perm: Perm::Authenticated, summary: "Start TOTP enrolment (local users; the password, and a current code when TOTP is on)", params: &[], body: true, produces: "application/json", handler: |m| on(m, session::totp_enroll) },
    Route { method: "POST", path: "/api/compliance/auth/totp/verify", perm: Perm::Authenticated, summary: "Confirm TOTP enrolment with a code; other sessions end", params: &[], body: true, produces: "application/json", handler: |m| on(m, session::totp_verify) },
    Route { method: "POST", path: "/api/compliance/auth/totp/disable", perm: Perm::Authenticated, summary: "Switch TOTP off (the password and a current code); other sessions end", params: &[], body: true, produces: "application/json", handler: |m| on(m, session::totp_disable) },
    Route { method: "POST", path: "/api/compliance/audit-logs", perm: Perm::Ingest, summary: "Append one event or an array of up to 10,000 (all or nothing); returns sequence numbers", params: &[], body: true, produces: "application/json", handler: |m| on(m, audit_logs::ingest) },
    Route { method: "GET", path: "/api/compliance/audit-logs", perm: Perm::ReadLedger, summary: "Query audit events", params: AUDIT_FILTERS, body: false, produces: "application/json", handler: |m| on(m, audit_logs::query) },
    Route { method: "GET", path: "/api/compliance/audit-logs/export", perm: Perm::ExportLedger, summary: "Export audit events as CSV or NDJSON (streamed)", params: EXPORT_FILTERS, body: false, produces: "application/x-ndjson", handler: |m| on(m, audit_logs::export) },
    Route { method: "GET", path: "/api/compliance/audit-logs/verify", perm: Perm::ReadLedger, summary: "Verify the whole ledger: {valid, broken_at, …}", params: &[], body: false, produces: "application/json", handler: |m| on(m, ledger::verify) },
    Route { method: "GET", path: "/api/compliance/ledger/checkpoint", perm: Perm::ReadLedger, summary: "The latest signed checkpoint (C2SP tlog-checkpoint)", params: &[], body: false, produces: "text/plain", handler: |m| on(m, ledger::checkpoint) },
    Route { method: "GET", path: "/api/compliance/ledger/proof", perm: Perm::ReadLedger, summary: "Inclusion proof (C2SP tlog-proof)", params: &[qr("index", "integer"), q("size", "integer")], body: false, produces: "text/plain", handler: |m| on(m, ledger::proof) },
    Route { method: "GET", path: "/api/compliance/ledger/consistency", perm: Perm::ReadLedger, summary: "Consistency proof between two tree sizes", params: &[qr("from", "integer"), qr("to", "integer")], body: false, produces: "application/json", handler: |m| on(m, ledger::consistency) },
    Route { method: "GET", path: "/api/compliance/ledger/tile/{*path}", perm: Perm::ReadLedger, summary: "C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>] for the latest checkpoint's tree", params: &[p("path")], body: false, produces: "application/octet-stream", handler: |m| on(m, ledger::tile) },
    Route { method: "GET", path: "/api/compliance/public-key", perm: Perm::Public, summary: "The packet signing public key (SPKI PEM) and the log's verifier key", params: &[], body: false, produces: "text/plain", handler: |m| on(m, ledger::public_key) },
    Route { method: "GET", path: "/api/compliance/soc2-packet", perm: Perm::ReadPackets, summary: "The signed evidence packet for a period (JSON or PDF; signature in X-Evidence-Signature)", params: &[qr("startDate", "string"), qr("endDate", "string"), q("format", "string")], body: false, produces: "application/json", handler: |m| on(m, packets::packet) },
    Route { method: "GET", path: "/api/compliance/evidence", perm: Perm::ReadEvidence, summary: "Evidence items", params: &[q("evidence_id", "string"), q("period", "string"), q("limit", "integer")], body: false, produces: "application/json", handler: |m| on(m, evidence::evidence_list) },
    Route { method: "GET", path: "/api/compliance/evidence/export", perm: Perm::ReadEvidence, summary: "Evidence items supporting criteria in a period, as JSON, CSV or a signed PDF (signature in X-Evidence-Signature)", params: &[q("criteria", "string"), qr("period_start", "string"), qr("period_end", "string"), q("format", "string")], body: false, produces: "application/json", handler: |m| on(m, evidence::evidence_export) },
    Route { method: "GET", path: "/api/compliance/evidence/{id}", perm: Perm::ReadEvidence, summary: "One evidence item's record", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, evidence::evidence_get) },
    Route { method: "GET", path: "/api/compliance/controls/{id}/evidence", perm: Perm::ReadEvidence, summary: "A control's status, checks and evidence for a period", params: &[p("id"), q("period", "string")], body: false, produces: "application/json", handler: |m| on(m, evidence::control_evidence) },
    Route { method: "GET", path: "/api/compliance/status", perm: Perm::ReadEvidence, summary: "Compliance status: controls, open findings, ledger", params: &[q("period", "string")], body: false, produces: "application/json", handler: |m| on(m, status::status) },
    Route { method: "GET", path: "/api/compliance/findings", perm: Perm::ReadEvidence, summary: "Findings", params: &[q("status", "string")], body: false, produces: "application/json", handler: |m| on(m, findings::findings_list) },
    Route { method: "POST", path: "/api/compliance/findings", perm: Perm::OpenFinding, summary: "Open a finding", params: &[], body: true, produces: "application/json", handler: |m| on(m, findings::findings_open) },
    Route { method: "PATCH", path: "/api/compliance/findings/{id}", perm: Perm::Operate, summary: "Update a finding (status, severity, owner, note)", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, findings::findings_update) },
    Route { method: "GET", path: "/api/compliance/incidents", perm: Perm::ReadEvidence, summary: "Incidents with their response SLA (filters: status or open, severity, period detected, breached)", params: &[q("status", "string"), q("severity", "string"), q("period", "string"), q("breached", "boolean")], body: false, produces: "application/json", handler: |m| on(m, incidents::incidents_list) },
    Route { method: "POST", path: "/api/compliance/incidents", perm: Perm::Operate, summary: "Log an incident (seed 003's body); 201 with its id and response deadline", params: &[], body: true, produces: "application/json", handler: |m| on(m, incidents::incidents_open) },
    Route { method: "GET", path: "/api/compliance/incidents/{id}", perm: Perm::ReadEvidence, summary: "One incident: timeline, SLA, status", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, incidents::incidents_get) },
    Route { method: "PATCH", path: "/api/compliance/incidents/{id}", perm: Perm::Operate, summary: "Update an incident (state along the lifecycle, severity, assignee; reason to dismiss, lessons_learned to close)", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, incidents::incidents_update) },
    Route { method: "POST", path: "/api/compliance/incidents/{id}/timeline", perm: Perm::Operate, summary: "Add a timeline entry (text, and when it happened: not before detection, not in the future)", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, incidents::incidents_timeline) },
    Route { method: "GET", path: "/api/compliance/access-reviews", perm: Perm::ReadEvidence, summary: "Access-review campaigns with their counts (status=draft|in_progress|completed|cancelled)", params: &[q("status", "string")], body: false, produces: "application/json", handler: |m| on(m, access_reviews::list) },
    Route { method: "POST", path: "/api/compliance/access-reviews", perm: Perm::ManageReviews, summary: "Create an access-review campaign over populations, started at once (snapshot taken) unless draft", params: &[], body: true, produces: "application/json", handler: |m| on(m, access_reviews::create) },
    Route { method: "GET", path: "/api/compliance/access-reviews/{id}", perm: Perm::ReadEvidence, summary: "An access-review campaign: entries, decisions and, once completed, its signed document", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, access_reviews::show) },
    Route { method: "POST", path: "/api/compliance/access-reviews/{id}/start", perm: Perm::ManageReviews, summary: "Start a draft access review (take its snapshot)", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, access_reviews::start) },
    Route { method: "POST", path: "/api/compliance/access-reviews/{id}/decisions", perm: Perm::DecideAccess, summary: "Decide one account (keep, revoke, defer, escalate) as a reviewer of its population", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, access_reviews::decide) },
    Route { method: "POST", path: "/api/compliance/access-reviews/{id}/draft", perm: Perm::ManageReviews, summary: "The exact bytes (canonical JSON) to sign with your own key before /complete ({\"signature_kind\": \"ssh\"|\"gpg\"}); header X-Vouch-Document-Sha256", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, access_reviews::draft) },
    Route { method: "POST", path: "/api/compliance/access-reviews/{id}/complete", perm: Perm::ManageReviews, summary: "Complete and sign an access review (409 while entries are undecided); optionally a JSON body with your own detached \"signature\" over the /draft bytes, \"document_sha256\" and \"completed_at\" (409 if the document changed, 400 if it does not verify)", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, access_reviews::complete) },
    Route { method: "POST", path: "/api/compliance/access-reviews/{id}/cancel", perm: Perm::ManageReviews, summary: "Cancel a draft or an access review in progress", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, access_reviews::cancel) },
    Route { method: "GET", path: "/api/compliance/collections", perm: Perm::ReadEvidence, summary: "Archived collections", params: &[q("period", "string")], body: false, produces: "application/json", handler: |m| on(m, archives::collections) },
    Route { method: "GET", path: "/api/compliance/jobs", perm: Perm::ReadEvidence, summary: "Scheduled jobs: schedule and latest run", params: &[], body: false, produces: "application/json", handler: |m| on(m, jobs::jobs_list) },
    Route { method: "GET", path: "/api/compliance/jobs/{name}/runs", perm: Perm::ReadEvidence, summary: "A job's run history", params: &[p("name")], body: false, produces: "application/json", handler: |m| on(m, jobs::job_runs) },
    Route { method: "POST", path: "/api/compliance/jobs/{name}/run", perm: Perm::Operate, summary: "Run a job now", params: &[p("name"), q("period", "string")], body: false, produces: "application/json", handler: |m| on(m, jobs::job_run) },
    Route { method: "GET", path: "/api/compliance/attestations", perm: Perm::ReadEvidence, summary: "Attestations and collection sign-offs (window, status, steps, signature)", params: &[q("kind", "string"), q("status", "string")], body: false, produces: "application/json", handler: |m| on(m, attestations::list) },
    Route { method: "POST", path: "/api/compliance/attestations", perm: Perm::Operate, summary: "Open a period's attestation window now with a draft ({\"period\": \"2026-Q4\"})", params: &[], body: true, produces: "application/json", handler: |m| on(m, attestations::open) },
    Route { method: "GET", path: "/api/compliance/attestations/{id}", perm: Perm::ReadEvidence, summary: "One attestation: steps pre-filled from check results, findings, exceptions; the signed document once signed", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, attestations::get) },
    Route { method: "POST", path: "/api/compliance/attestations/{id}/sign", perm: Perm::SignOff, summary: "Sign an attestation or sign-off as the caller ({\"opinion\", \"notes\"}, optionally your own detached \"signature\" over the /draft bytes with \"document_sha256\" and \"signed_at\"); freezes it", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, attestations::sign) },
    Route { method: "POST", path: "/api/compliance/attestations/{id}/draft", perm: Perm::SignOff, summary: "The exact bytes (canonical JSON) to sign with your own key before /sign ({\"opinion\", \"notes\", \"signature_kind\": \"ssh\"|\"gpg\"}); header X-Vouch-Document-Sha256", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, attestations::draft) },
    Route { method: "POST", path: "/api/compliance/attestations/{id}/pr-decisions", perm: Perm::SignOff, summary: "Decide a sampled merged PR of a quarterly review ({\"pr\", \"decision\": \"approved\"|\"exception\", \"note\"})", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, attestations::decide_pr) },
    Route { method: "POST", path: "/api/compliance/reports", perm: Perm::Operate, summary: "Request a compliance report (seed 003: report_type soc2|access_review|vulnerability|incident, period_start, period_end, criteria); 202, generated by a job run", params: &[], body: true, produces: "application/json", handler: |m| on(m, reports::create) },
    Route { method: "GET", path: "/api/compliance/reports", perm: Perm::ReadEvidence, summary: "Compliance reports, newest first", params: &[q("report_type", "string"), q("limit", "integer")], body: false, produces: "application/json", handler: |m| on(m, reports::list) },
    Route { method: "GET", path: "/api/compliance/reports/{id}", perm: Perm::ReadEvidence, summary: "A report: status and, once generated, its artifacts", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, reports::get) },
    Route { method: "GET", path: "/api/compliance/reports/{id}/download", perm: Perm::ReadPackets, summary: "A report artifact (JSON, PDF or CSV; signature in X-Evidence-Signature)", params: &[p("id"), q("format", "string")], body: false, produces: "application/octet-stream", handler: |m| on(m, reports::download) },
    Route { method: "GET", path: "/api/compliance/report-schedules", perm: Perm::ReadEvidence, summary: "Scheduled reports ([reports] schedule) and each one's latest report", params: &[], body: false, produces: "application/json", handler: |m| on(m, reports::schedules) },
    Route { method: "GET", path: "/api/compliance/populations", perm: Perm::ReadEvidence, summary: "Population definitions and the populations taken, newest first", params: &[q("population", "string")], body: false, produces: "application/json", handler: |m| on(m, auditor::populations_list) },
    Route { method: "POST", path: "/api/compliance/populations", perm: Perm::Operate, summary: "Take a population ({\"population\", \"period\"}): items in canonical JSON, Merkle root, population.taken event; 201", params: &[], body: true, produces: "application/json", handler: |m| on(m, auditor::populations_take) },
    Route { method: "GET", path: "/api/compliance/populations/{id}", perm: Perm::ReadEvidence, summary: "One population: definition, period, size, root, ledger seq", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, auditor::populations_get) },
    Route { method: "GET", path: "/api/compliance/populations/{id}/export", perm: Perm::ReadEvidence, summary: "A population's items as NDJSON (each line a Merkle leaf) or CSV", params: &[p("id"), q("format", "string")], body: false, produces: "application/x-ndjson", handler: |m| on(m, auditor::populations_export) },
    Route { method: "POST", path: "/api/compliance/samples/commitments", perm: Perm::Sample, summary: "Commit to a secret sampling nonce ({\"population\", \"period\", \"commitment\": hex SHA-256 of the nonce}); one per population and period; 201", params: &[], body: true, produces: "application/json", handler: |m| on(m, auditor::commitments_create) },
    Route { method: "GET", path: "/api/compliance/samples", perm: Perm::ReadEvidence, summary: "Nonce commitments and drawn samples, newest first", params: &[], body: false, produces: "application/json", handler: |m| on(m, auditor::samples_list) },
    Route { method: "POST", path: "/api/compliance/samples", perm: Perm::Sample, summary: "Reveal the nonce and draw the sample ({\"commitment\", \"nonce\"}); 201", params: &[], body: true, produces: "application/json", handler: |m| on(m, auditor::samples_draw) },
    Route { method: "GET", path: "/api/compliance/samples/{id}", perm: Perm::ReadEvidence, summary: "A sample's export: records, seed checkpoint, event and item inclusion proofs (verify_sample.py)", params: &[p("id")], body: false, produces: "application/json", handler: |m| on(m, auditor::samples_get) },
    Route { method: "POST", path: "/api/compliance/samples/{id}/requests", perm: Perm::Sample, summary: "Request something of the company about a sampled item ({\"item\": index, \"text\"}); 201", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, auditor::pbc_request) },
    Route { method: "GET", path: "/api/compliance/pbc", perm: Perm::ReadEvidence, summary: "PBC requests with their answers and history (filter: sample)", params: &[q("sample", "string")], body: false, produces: "application/json", handler: |m| on(m, auditor::pbc_list) },
    Route { method: "POST", path: "/api/compliance/pbc/{id}/answer", perm: Perm::Operate, summary: "Answer a PBC request with an evidence item ({\"evidence_item\", \"note\"?})", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, auditor::pbc_answer) },
    Route { method: "POST", path: "/api/compliance/pbc/{id}/accept", perm: Perm::Sample, summary: "Accept a PBC request's answer ({\"comment\"?})", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, auditor::pbc_accept) },
    Route { method: "POST", path: "/api/compliance/pbc/{id}/return", perm: Perm::Sample, summary: "Return a PBC request's answer with a comment ({\"comment\"})", params: &[p("id")], body: true, produces: "application/json", handler: |m| on(m, auditor::pbc_return) },
    Route { method: "POST", path: "/api/compliance/checks/run", perm: Perm::Operate, summary: "Evaluate checks for a period", params: &[q("period", "string")], body: false, produces: "application/json", handler: |m| on(m, checks::run_checks) },
    // The dashboard (seed 003's /admin/compliance, docs/dashboard.md): HTML pages with the
    // permission of the API route each mirrors; forms (CSRF-checked) call that route's handler.
    Route { method: "GET", path: "/admin/compliance", perm: Perm::ReadEvidence, summary: "Dashboard: overview (status by category and criterion, findings, incidents, ledger, freshness, jobs)", params: &[q("period", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::overview::overview) },
    Route { method: "GET", path: "/admin/compliance/login", perm: Perm::Public, summary: "Dashboard: log-in page", params: &[q("next", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::login::login_page) },
    Route { method: "POST", path: "/admin/compliance/login", perm: Perm::Public, summary: "Dashboard: log in a local user (form: username, password, totp_code); sets the session cookie", params: &[], body: false, produces: "text/html", handler: |m| on(m, dashboard::login::login_submit) },
    Route { method: "POST", path: "/admin/compliance/token-login", perm: Perm::Public, summary: "Dashboard: use an API token or JWT (form: token) as the session cookie", params: &[], body: false, produces: "text/html", handler: |m| on(m, dashboard::login::token_login) },
    Route { method: "POST", path: "/admin/compliance/logout", perm: Perm::Authenticated, summary: "Dashboard: log out (form with csrf)", params: &[], body: false, produces: "text/html", handler: |m| on(m, dashboard::login::logout) },
    Route { method: "GET", path: "/admin/compliance/assets/dashboard.css", perm: Perm::Public, summary: "Dashboard: style sheet", params: &[], body: false, produces: "text/css", handler: |m| on(m, dashboard::css) },
    Route { method: "GET", path: "/admin/compliance/assets/favicon.svg", perm: Perm::Public, summary: "Dashboard: icon", params: &[], body: false, produces: "image/svg+xml", handler: |m| on(m, dashboard::favicon) },
    Route { method: "GET", path: "/admin/compliance/effectiveness", perm: Perm::ReadEvidence, summary: "Dashboard: control status per month of the audit period (as stored), days without fresh evidence", params: &[q("audit", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::effectiveness::effectiveness) },
    Route { method: "GET", path: "/admin/compliance/timeline", perm: Perm::ReadEvidence, summary: "Dashboard: upcoming audit timeline", params: &[q("audit", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::timeline::timeline) },
    Route { method: "GET", path: "/admin/compliance/criteria/{id}", perm: Perm::ReadEvidence, summary: "Dashboard: a criterion and its controls", params: &[p("id"), q("period", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::criterion) },
    Route { method: "GET", path: "/admin/compliance/controls/{id}", perm: Perm::ReadEvidence, summary: "Dashboard: a control's checks, evidence and findings", params: &[p("id"), q("period", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::control) },
    Route { method: "GET", path: "/admin/compliance/evidence/{id}", perm: Perm::ReadEvidence, summary: "Dashboard: an evidence item's IPE record and ledger proof", params: &[p("id")], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::evidence) },
    Route { method: "GET", path: "/admin/compliance/findings", perm: Perm::ReadEvidence, summary: "Dashboard: findings", params: &[q("status", "string")], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::findings) },
    Route { method: "GET", path: "/admin/compliance/findings/{id}", perm: Perm::ReadEvidence, summary: "Dashboard: a finding, its history and the update form", params: &[p("id")], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::finding) },
    Route { method: "POST", path: "/admin/compliance/findings/{id}", perm: Perm::Operate, summary: "Dashboard: update a finding (form; as PATCH /api/compliance/findings/{id})", params: &[p("id")], body: false, produces: "text/html", handler: |m| on(m, dashboard::actions::update_finding) },
    Route { method: "GET", path: "/admin/compliance/packets", perm: Perm::ReadEvidence, summary: "Dashboard: packets, archives and signed attestations", params: &[], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::packets) },
    Route { method: "GET", path: "/admin/compliance/access-reviews/{id}", perm: Perm::ReadEvidence, summary: "Dashboard: an access review's entries and decision forms", params: &[p("id")], body: false, produces: "text/html", handler: |m| on(m, dashboard::drill::access_review) },
    Route { method: "POST", path: "/admin/compliance/access-reviews/{id}/decisions", perm: Perm::DecideAccess, summary: "Dashboard: decide an access-review entry (form; as POST /api/compliance/access-reviews/{id}/decisions)", params: &[p("id")], body: false, produces: "text/html", handler: |m| on(m, dashboard::actions::decide) },
    Route { method: "POST", path: "/admin/compliance/checks/run", perm: Perm::Operate, summary: "Dashboard: run checks (form; as POST /api/compliance/checks/run)", params: &[], body: false, produces: "text/html", handler: |m| on(m, dashboard::actions::run_checks) },
    Route { method: "POST", path: "/admin/compliance/jobs/{name}/run", perm: Perm::Operate, summary: "Dashboard: run a job now (form; as POST /api/compliance/jobs/{name}/run)", params: &[p("name")], body: false, produces: "text/html", handler: |m| on(m, dashboard::actions::run_job) },
    Route { method: "POST", path: "/admin/compliance/attestations/{id}/sign", perm: Perm::SignOff, summary: "Dashboard: sign an attestation (form; as POST /api/compliance/attestations/{id}/sign)", params: &[p("id")], body: false, produces: "text/html", handler: |m| on(m, dashboard::actions::sign_attestation) },
];

/// The route for a method and matched path template.
pub fn find(method: &str, path: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_method_and_path() {
        for (i, r) in ROUTES.iter().enumerate() {
            r.method_filter();
            assert!(
                r.path.starts_with(BASE)
                    || r.path.starts_with(dashboard::ROOT)
                    || !r.path[1..].contains('/'),
                "{} is outside {BASE}",
                r.path
            );
            assert!(
                ROUTES[..i]
                    .iter()
                    .all(|o| (o.method, o.path) != (r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            assert_eq!(find(r.method, r.path).map(|f| f.summary), Some(r.summary));
        }
    }
}
