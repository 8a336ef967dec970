//! Roles and what each may do. Every route names one permission (in `routes.rs`); this
//! table is the only place that says which role holds it.

use serde::Serialize;

/// A role; what each may do is [`allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Read, open findings and operate (collect, check, archive, update findings); no export.
    ComplianceOfficer,
    /// Read and export; cannot open findings or operate.
    TeamLead,
    /// Read and export, and open findings.
    Auditor,
    /// Only post audit events.
    Ingest,
}

/// Every role.
pub const ROLES: &[Role] = &[
    Role::Admin,
    Role::ComplianceOfficer,
    Role::TeamLead,
    Role::Auditor,
    Role::Ingest,
];

impl Role {
    /// The role's name (`compliance-officer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ComplianceOfficer => "compliance-officer",
            Role::TeamLead => "team-lead",
            Role::Auditor => "auditor",
            Role::Ingest => "ingest",
        }
    }
    /// The role with this name.
    pub fn parse(s: &str) -> Option<Role> {
        ROLES.iter().copied().find(|r| r.as_str() == s)
    }
}

/// A permission a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Perm {
    /// No token needed (health, OpenAPI, login).
    Public,
    /// Any valid token or session (whoami, TOTP enrolment).
    Authenticated,
    /// POST audit events.
    Ingest,
    /// Read the ledger: query, verify, checkpoints, proofs, tiles, public key.
    ReadLedger,
    /// Export the audit log (CSV/NDJSON streams).
    ExportLedger,
    /// Read evidence, controls, status, findings, collections.
    ReadEvidence,
    /// Download packets.
    ReadPackets,
    /// Open findings (auditors may).
    OpenFinding,
    /// Update findings, run collection and checks, archive.
    Operate,
    /// Create, start, complete and cancel access-review campaigns.
    ManageReviews,
    /// Decide access-review entries (as a reviewer assigned to the population).
    DecideAccess,
    /// Sign attestations and sign-offs (the document's signer role is checked too:
    /// `[attestations] signer_role`, `collection_signer_role`).
    SignOff,
    /// The auditor's side of sampling: commit a nonce, draw a sample, make PBC requests,
    /// accept or return answers.
    Sample,
}

/// The roles matrix.
pub fn allows(role: Role, perm: Perm) -> bool {
    use Perm as P;
    use Role as R;
    match perm {
        P::Public | P::Authenticated => true,
        P::Ingest => matches!(role, R::Admin | R::Ingest),
        P::ReadLedger | P::ReadEvidence | P::ReadPackets => matches!(
            role,
            R::Admin | R::ComplianceOfficer | R::TeamLead | R::Auditor
        ),
        P::ExportLedger => matches!(role, R::Admin | R::TeamLead | R::Auditor),
        P::OpenFinding => matches!(role, R::Admin | R::ComplianceOfficer | R::Auditor),
        P::Operate | P::ManageReviews => matches!(role, R::Admin | R::ComplianceOfficer),
        // Team leads review their teams' access; auditors read campaigns, decide nothing.
        P::DecideAccess => matches!(role, R::Admin | R::ComplianceOfficer | R::TeamLead),
        P::SignOff => matches!(role, R::Admin | R::ComplianceOfficer | R::TeamLead),
        // Only the auditor commits, draws and judges answers: the company takes
        // populations and answers requests (Operate), it never draws. Not even Admin,
        // who holds Operate: one person must not play both sides (docs/sampling.md §2).
        P::Sample => matches!(role, R::Auditor),
    }
}
