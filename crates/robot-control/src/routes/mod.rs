//! The HTTP surface: the seed's routes (kept byte-for-byte so its page still works), the JSON API
//! for scripts, and the UI page. [`crate::router`] assembles them with the access checks and telemetry.

pub mod api;
pub mod seed;
pub mod ui;
