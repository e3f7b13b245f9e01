//! The parts of the Waymark binary that its tests drive directly.

pub mod embedded;
