//! The PDF rendering of a packet, with typst (as a library, fonts embedded, no
//! downloads). The template receives the packet JSON itself, so the PDF shows exactly
//! what the signed JSON says. The creation date is the packet's `generated_at` and the
//! document id is derived from the JSON's hash: the same packet gives the same bytes.

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use typst::foundations::{Bytes, Datetime, Dict, IntoValue, Smart};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

const TEMPLATE: &str = include_str!("packet.typ");
const EXPORT_TEMPLATE: &str = include_str!("evidence_export.typ");
const ATTESTATION_TEMPLATE: &str = include_str!("attestation.typ");
const REPORT_TEMPLATE: &str = include_str!("report.typ");
const ACCESS_REVIEW_TEMPLATE: &str = include_str!("access_review.typ");

/// Parsing the embedded fonts is the slow part: do it once per process.
fn engine() -> &'static TypstEngine<TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        TypstEngine::builder()
            .main_file(TEMPLATE)
            .fonts(typst_assets::fonts().map(Bytes::new))
            .build()
    })
}

fn export_engine() -> &'static TypstEngine<TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        TypstEngine::builder()
            .main_file(EXPORT_TEMPLATE)
            .fonts(typst_assets::fonts().map(Bytes::new))
            .build()
    })
}

fn attestation_engine() -> &'static TypstEngine<TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        TypstEngine::builder()
            .main_file(ATTESTATION_TEMPLATE)
            .fonts(typst_assets::fonts().map(Bytes::new))
            .build()
    })
}

fn access_review_engine() -> &'static TypstEngine<TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        TypstEngine::builder()
            .main_file(ACCESS_REVIEW_TEMPLATE)
            .fonts(typst_assets::fonts().map(Bytes::new))
            .build()
    })
}

fn report_engine() -> &'static TypstEngine<TypstTemplateMainFile> {
    static ENGINE: OnceLock<TypstEngine<TypstTemplateMainFile>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        TypstEngine::builder()
            .main_file(REPORT_TEMPLATE)
            .fonts(typst_assets::fonts().map(Bytes::new))
            .build()
    })
}

/// Render a signed attestation or sign-off (the canonical JSON of its document) to PDF
/// bytes; `at` is its signing time (the PDF's creation date), so the bytes are
/// reproducible.
pub fn render_attestation(json: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    render_with(attestation_engine(), "vouch-attestation", json, at)
}

/// Render a completed access-review campaign (the canonical JSON of its signed document)
/// to PDF bytes; `at` is its completion time (the PDF's creation date): reproducible.
pub fn render_access_review(json: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    render_with(access_review_engine(), "vouch-access-review", json, at)
}

/// Render a compliance report's view (`{title, organization, report_id, period,
/// generated_at, vouch_version, status, summary[], notes[], tables[{title, columns[],
/// rows[[]], empty}]}`, every cell a string) to PDF bytes.
pub fn render_report(json: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    render_with(report_engine(), "vouch-report", json, at)
}

/// Render the packet (the bytes of SOC2_Evidence.json) to PDF bytes.
pub fn render(json: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    render_with(engine(), "vouch-packet", json, at)
}

/// Render an evidence export (`{organization, period, criteria, generated_at,
/// vouch_version, items}`) to PDF bytes.
pub fn render_evidence_export(json: &[u8], at: DateTime<Utc>) -> Result<Vec<u8>, String> {
    render_with(export_engine(), "vouch-evidence-export", json, at)
}

fn render_with(
    engine: &TypstEngine<TypstTemplateMainFile>,
    ident: &str,
    json: &[u8],
    at: DateTime<Utc>,
) -> Result<Vec<u8>, String> {
    let sha = hex::encode(Sha256::digest(json));
    let mut inputs = Dict::new();
    inputs.insert("data".into(), Bytes::new(json.to_vec()).into_value());
    inputs.insert("json_sha256".into(), sha.clone().into_value());
    let warned = engine.compile_with_input(inputs);
    let doc: PagedDocument = warned
        .output
        .map_err(|e| format!("cannot render the PDF: {e}"))?;
    let created = Datetime::from_ymd_hms(
        at.year(),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )
    .ok_or("cannot render the PDF: generation time out of range")?;
    let options = PdfOptions {
        ident: Smart::Custom(format!("{ident}-{sha}")),
        creator: Smart::Custom(Some(format!("vouch {}", vouch_core::VERSION))),
        timestamp: Some(Timestamp::new_utc(created)),
        ..PdfOptions::default()
    };
    typst_pdf::pdf(&doc, &options).map_err(|diags| {
        format!(
            "cannot render the PDF: {}",
            diags
                .iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}
