//! Reading a job's return value as any `DeserializeOwned` type: rmp-serde's
//! deserializer over the value's canonical MessagePack.
//!
//! The value has been decoded and checked against the type table already
//! (`ardiq_spec::value::decode`); what is left is serde's mapping onto the
//! caller's type, and rmp-serde's is the one this crate writes with
//! `to_value`: structs from maps, enums from a variant's name or from a
//! one-entry map `{variant: content}`, ints into any integer type they fit.

use std::borrow::Borrow;

use ardiq_spec::Value;
use serde::de::DeserializeOwned;

use crate::Error;

/// Reads `value` as a `T`; a value that does not fit `T` is an
/// [`Error::UnexpectedResult`].
pub fn from_value<T: DeserializeOwned>(value: impl Borrow<Value>) -> Result<T, Error> {
    rmp_serde::from_slice(&ardiq_spec::value::to_vec(value.borrow()))
        .map_err(|err| Error::UnexpectedResult(err.to_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Total {
        sum: i64,
        parts: Vec<f64>,
        note: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Outcome {
        Done,
        Moved(String),
    }

    #[test]
    fn reads_structs_from_maps() {
        let value = Value::Map(vec![
            ("sum".into(), Value::Int(3)),
            (
                "parts".into(),
                Value::Array(vec![Value::Float(1.0), Value::Float(2.0)]),
            ),
            ("note".into(), Value::Nil),
        ]);
        let total: Total = from_value(value).unwrap();
        assert_eq!(
            total,
            Total {
                sum: 3,
                parts: vec![1.0, 2.0],
                note: None
            }
        );
    }

    #[test]
    fn reads_enums_scalars_and_maps() {
        assert_eq!(
            from_value::<Outcome>(Value::Str("Done".into())).unwrap(),
            Outcome::Done
        );
        let moved = Value::Map(vec![("Moved".into(), Value::Str("b".into()))]);
        assert_eq!(
            from_value::<Outcome>(moved).unwrap(),
            Outcome::Moved("b".into())
        );
        assert_eq!(from_value::<u8>(Value::Int(200)).unwrap(), 200);
        let map: HashMap<String, bool> =
            from_value(Value::Map(vec![("k".into(), Value::Bool(true))])).unwrap();
        assert!(map["k"]);
    }

    #[test]
    fn reads_bytes_options_and_borrowed_values() {
        let bytes: serde_bytes::ByteBuf = from_value(Value::Bytes(vec![0, 255])).unwrap();
        assert_eq!(bytes.into_vec(), vec![0, 255]);
        assert_eq!(from_value::<Option<i64>>(Value::Nil).unwrap(), None);
        let value = Value::Array(vec![Value::Int(-1), Value::Float(0.5)]);
        assert_eq!(from_value::<(i8, f64)>(&value).unwrap(), (-1, 0.5));
    }

    #[test]
    fn a_value_that_does_not_fit_is_an_unexpected_result() {
        let err = from_value::<u8>(Value::Int(300)).unwrap_err();
        assert!(matches!(err, Error::UnexpectedResult(_)), "{err:?}");
        let err = from_value::<String>(Value::Int(1)).unwrap_err();
        assert!(matches!(err, Error::UnexpectedResult(_)), "{err:?}");
    }
}
