//! C2SP tlog-tiles read paths, so standard tooling can read the log:
//! `tile/<L>/<N>[.p/<W>]` (hashes) and `tile/entries/<N>[.p/<W>]` (entry bundles).
//! Tiles are served for the tree of the latest checkpoint; a full tile is immutable, a
//! partial one (`.p/W`) is served only for the width the checkpoint covers.

use crate::error::{ApiError, ApiResult};
use vouch_core::merkle::TILE_HEIGHT;

const WIDTH: u64 = 1 << TILE_HEIGHT;

/// A parsed tlog-tiles path.
pub enum Tile {
    /// A tile of Merkle hashes: `tile/<L>/<N>[.p/<W>]`.
    Hashes {
        /// Tile level (each level is `TILE_HEIGHT` tree levels).
        level: u32,
        /// Index of the tile at its level.
        index: u64,
        /// Hashes in the tile (256 when full).
        width: u64,
    },
    /// A bundle of entries: `tile/entries/<N>[.p/<W>]`.
    Entries {
        /// Index of the entry bundle.
        index: u64,
        /// Entries in the bundle (256 when full).
        width: u64,
    },
}

/// `x001/x234/067` → 1234067.
fn index(parts: &[&str]) -> Option<u64> {
    if parts.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for (i, p) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        let digits = if last { *p } else { p.strip_prefix('x')? };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    Some(n)
}

/// Parse a path after `tile/`; 404 when it is not a tlog-tiles path.
pub fn parse(path: &str) -> ApiResult<Tile> {
    let bad = || ApiError::not_found(format!("`tile/{path}` is not a tlog-tiles path"));
    let (body, width) = match path.split_once(".p/") {
        Some((b, w)) => {
            let w: u64 = w.parse().map_err(|_| bad())?;
            if !(1..WIDTH).contains(&w) {
                return Err(bad());
            }
            (b, w)
        }
        None => (path, WIDTH),
    };
    let parts: Vec<&str> = body.split('/').collect();
    match parts.first() {
        Some(&"entries") => Ok(Tile::Entries {
            index: index(&parts[1..]).ok_or_else(bad)?,
            width,
        }),
        Some(l) => {
            let level: u32 = l.parse().ok().filter(|l: &u32| *l < 8).ok_or_else(bad)?;
            Ok(Tile::Hashes {
                level,
                index: index(&parts[1..]).ok_or_else(bad)?,
                width,
            })
        }
        None => Err(bad()),
    }
}

/// The tile's bytes for a tree of `size` leaves.
pub fn read(store: &vouch_store::Store, tile: &Tile, size: u64) -> ApiResult<Vec<u8>> {
    let (level, index, width) = match tile {
        Tile::Hashes {
            level,
            index,
            width,
        } => (*level, *index, *width),
        Tile::Entries { index, width } => (0, *index, *width),
    };
    // How many hashes exist at this tile level in a tree of `size`.
    let at_level = size >> (TILE_HEIGHT * level);
    let start = index
        .checked_mul(WIDTH)
        .ok_or_else(|| ApiError::not_found("no such tile"))?;
    let available = at_level.saturating_sub(start).min(WIDTH);
    if available < width || (width < WIDTH && available != width) {
        return Err(ApiError::not_found("no such tile in the current tree"));
    }
    let end = start + width;
    match tile {
        Tile::Hashes { level: 0, .. } => Ok(store.leaf_hashes(start, end)?.concat()),
        Tile::Hashes { level, .. } => Ok(store.nodes(level * TILE_HEIGHT, start, end)?.concat()),
        Tile::Entries { .. } => {
            let mut out = Vec::new();
            for seq in start..end {
                let leaf = store
                    .leaf(seq)?
                    .ok_or_else(|| ApiError::internal(format!("entry {seq} is missing")))?;
                let len = u16::try_from(leaf.len())
                    .map_err(|_| ApiError::internal("entry over 64 KiB"))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(leaf.as_bytes());
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths() {
        assert_eq!(super::index(&["x001", "x234", "067"]), Some(1_234_067));
        assert_eq!(super::index(&["000"]), Some(0));
        assert!(super::index(&["1"]).is_none());
        assert!(matches!(
            super::parse("0/000.p/5").unwrap(),
            super::Tile::Hashes {
                level: 0,
                index: 0,
                width: 5
            }
        ));
        assert!(matches!(
            super::parse("entries/x001/002").unwrap(),
            super::Tile::Entries {
                index: 1002,
                width: 256
            }
        ));
        assert!(super::parse("0/000.p/256").is_err());
        assert!(super::parse("9/000").is_err());
    }
}
