//! Access-review campaigns: snapshots of populations, decisions, completion.
