//! Compile-time bounds of the bundle format. Every length in a bundle is checked against one of
//! these before it is used, so an oversize or endless input is refused at the first byte too many.
//! Changing one changes the format's limits: the boot stage and the agent must agree on them.

/// The largest bundle header (everything before the image), in bytes.
pub const MAX_HEADER_LEN: usize = 64 * 1024;
/// The most root versions one header carries (the chain from root version 1 to the newest).
pub const MAX_ROOT_CHAIN: usize = 8;
/// The most keys one role (root or release) lists.
pub const MAX_KEYS_PER_ROLE: usize = 8;
/// The most signatures on one signed block (a rotated root carries the old and the new root's).
pub const MAX_SIGNATURES: usize = 16;
/// The most chunks one image has.
pub const MAX_CHUNKS: usize = 1024;
/// The smallest and largest chunk size, as powers of two (1 KiB .. 1 MiB).
pub const MIN_CHUNK_LOG2: u8 = 10;
/// See [`MIN_CHUNK_LOG2`].
pub const MAX_CHUNK_LOG2: u8 = 20;
/// The default chunk size (64 KiB): a 64 MiB image fits in [`MAX_CHUNKS`] chunks.
pub const DEFAULT_CHUNK_LOG2: u8 = 16;
/// The longest board or hardware id, in bytes.
pub const MAX_ID_LEN: usize = 32;
/// The largest step the security counter may take above the node's current one. A bounded step
/// keeps one signed mistake (or one stolen release threshold) from burning the counter to its
/// maximum and locking the node out of every later fix.
pub const MAX_COUNTER_STEP: u32 = 64;
/// The largest step of the version's major number above the node's current major (same reason).
pub const MAX_MAJOR_STEP: u16 = 8;
