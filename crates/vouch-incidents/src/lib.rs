//! Incidents (CC7.3–CC7.5): seed 003's incident log with severity response times, the
//! lifecycle from detection to lessons learned, a timeline, findings when a response
//! deadline is breached, and incidents opened automatically by rules over the ledger's
//! events and check results. Every change is a ledger event.
