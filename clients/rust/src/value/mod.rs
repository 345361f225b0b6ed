//! Conversions between Rust values and the spec's user values: `Serialize`
//! types into [`ardiq_spec::Value`] (with the type table's checks, written
//! here: see `ser`) and values back into `DeserializeOwned` types (through
//! rmp-serde).

mod de;
mod ser;

pub use de::from_value;
pub use ser::{to_arguments, to_value};
