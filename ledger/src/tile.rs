//! STUB, replaced by the real tile module.
pub const TILE_WIDTH: u64 = 256;
