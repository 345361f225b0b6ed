//! A serde `Deserializer` over an owned [`ardiq_spec::Value`], so a job's
//! return value can be read as any `DeserializeOwned` type.

use std::fmt::{self, Display};

use ardiq_spec::Value;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::Error;

/// Reads `value` as a `T`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    T::deserialize(ValueDeserializer(value)).map_err(|err| Error::UnexpectedResult(err.0))
}

/// Why a value does not fit the type asked for.
#[derive(Debug)]
pub struct DeserializeError(String);

impl Display for DeserializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeserializeError {}

impl de::Error for DeserializeError {
    fn custom<T: Display>(msg: T) -> Self {
        Self(msg.to_string())
    }
}

/// Deserializes one owned value.
#[derive(Debug)]
pub struct ValueDeserializer(Value);

impl IntoDeserializer<'_, DeserializeError> for ValueDeserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

fn seq(
    items: Vec<Value>,
) -> SeqDeserializer<impl Iterator<Item = ValueDeserializer>, DeserializeError> {
    SeqDeserializer::new(items.into_iter().map(ValueDeserializer))
}

impl<'de> de::Deserializer<'de> for ValueDeserializer {
    type Error = DeserializeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Nil => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Str(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Array(items) => {
                let mut access = seq(items);
                let value = visitor.visit_seq(&mut access)?;
                access.end()?;
                Ok(value)
            }
            Value::Map(entries) => {
                let mut access = MapDeserializer::new(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key, ValueDeserializer(value))),
                );
                let value = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Nil => visitor.visit_none(),
            other => visitor.visit_some(ValueDeserializer(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Str(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Map(mut entries) if entries.len() == 1 => {
                let (variant, content) = entries.pop().expect("one entry");
                visitor.visit_enum(EnumAccess { variant, content })
            }
            other => Err(de::Error::custom(format!(
                "expected an enum as a string or a one-entry map, found {other:?}"
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// An enum given as `{variant: content}`.
struct EnumAccess {
    variant: String,
    content: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = DeserializeError;
    type Variant = VariantAccess;

    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantAccess), DeserializeError> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, VariantAccess(self.content)))
    }
}

struct VariantAccess(Value);

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = DeserializeError;

    fn unit_variant(self) -> Result<(), DeserializeError> {
        match self.0 {
            Value::Nil => Ok(()),
            other => Err(de::Error::custom(format!(
                "expected a unit variant, found {other:?}"
            ))),
        }
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<S::Value, DeserializeError> {
        seed.deserialize(ValueDeserializer(self.0))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        de::Deserializer::deserialize_any(ValueDeserializer(self.0), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeserializeError> {
        de::Deserializer::deserialize_any(ValueDeserializer(self.0), visitor)
    }
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
    fn a_value_that_does_not_fit_is_an_unexpected_result() {
        let err = from_value::<u8>(Value::Int(300)).unwrap_err();
        assert!(matches!(err, Error::UnexpectedResult(_)), "{err:?}");
        let err = from_value::<String>(Value::Int(1)).unwrap_err();
        assert!(matches!(err, Error::UnexpectedResult(_)), "{err:?}");
    }
}
