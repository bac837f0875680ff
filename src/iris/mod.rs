//! InterSystems IRIS through iris-pgwire: every quirk, its evidence, its flag, and where
//! the flag is used. (The full manual is written with the IRIS work; see
//! `../shared/docs/iris-pgwire-quirks.md` for the evidence.)

pub(crate) mod placeholders;
mod quirks;
mod tx;

pub use quirks::Quirks;
pub use tx::transaction_effect;
