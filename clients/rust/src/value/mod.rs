//! Conversions between Rust values and the spec's user values: `Serialize`
//! types into [`ardiq_spec::Value`] (with the type table's checks) and
//! values back into `DeserializeOwned` types.

mod de;
mod ser;

pub use de::from_value;
pub use ser::{to_arguments, to_value};
