//! [`JsonValue`]: a dynamic JSON value rkyv can archive, converted
//! losslessly to and from [`serde_json::Value`].

use rkyv::{Archive, Deserialize, Serialize};

/// A JSON number, as serde_json keeps it (without its
/// `arbitrary_precision` feature).
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq)]
#[rkyv(derive(Debug))]
pub enum JsonNumber {
    /// A non-negative integer.
    PosInt(u64),
    /// A negative integer.
    NegInt(i64),
    /// A finite floating-point number.
    Float(f64),
}

/// A dynamic JSON value (the params of an RPC request), archivable by rkyv.
///
/// Objects keep their entries in order as a list of (key, value) pairs, so
/// that the archive is a plain vector and the round trip through
/// [`serde_json::Value`] is exact. Serialized with serde it is plain JSON,
/// exactly like the `serde_json::Value` it stands for.
///
/// Recursion is bounded on the way in: the codecs validate archives with a
/// nesting limit ([`DEFAULT_MAX_DEPTH`](crate::DEFAULT_MAX_DEPTH)), and
/// serde_json stops at 128 levels.
///
/// # Examples
///
/// ```
/// use codec::JsonValue;
///
/// let v = serde_json::json!({"key": "user:1", "ttl": 60, "tags": ["a", null, 1.5]});
/// let dynamic = JsonValue::from(v.clone());
/// assert_eq!(serde_json::Value::from(dynamic), v);
/// ```
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(serialize_bounds(
    __S: rkyv::ser::Writer + rkyv::ser::Allocator,
    __S::Error: rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: rkyv::validation::ArchiveContext,
    __C::Error: rkyv::rancor::Source,
)))]
pub enum JsonValue {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(JsonNumber),
    /// A string.
    String(String),
    /// An array.
    Array(#[rkyv(omit_bounds)] Vec<JsonValue>),
    /// An object: its entries in order.
    Object(#[rkyv(omit_bounds)] Vec<(String, JsonValue)>),
}

impl From<serde_json::Value> for JsonValue {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => JsonValue::Null,
            serde_json::Value::Bool(b) => JsonValue::Bool(b),
            serde_json::Value::Number(n) => JsonValue::Number(JsonNumber::from(&n)),
            serde_json::Value::String(s) => JsonValue::String(s),
            serde_json::Value::Array(a) => {
                JsonValue::Array(a.into_iter().map(JsonValue::from).collect())
            }
            serde_json::Value::Object(o) => JsonValue::Object(
                o.into_iter()
                    .map(|(k, v)| (k, JsonValue::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&serde_json::Number> for JsonNumber {
    fn from(n: &serde_json::Number) -> Self {
        if let Some(u) = n.as_u64() {
            JsonNumber::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            JsonNumber::NegInt(i)
        } else {
            // Without `arbitrary_precision` every number is one of the three.
            JsonNumber::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }
}

impl From<JsonNumber> for serde_json::Value {
    /// A non-finite float (which JSON cannot express) becomes `null`, as
    /// serde_json itself writes it.
    fn from(n: JsonNumber) -> Self {
        match n {
            JsonNumber::PosInt(u) => serde_json::Value::from(u),
            JsonNumber::NegInt(i) => serde_json::Value::from(i),
            JsonNumber::Float(f) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
        }
    }
}

impl From<JsonValue> for serde_json::Value {
    /// Exact for values that came from a `serde_json::Value`; an object with
    /// a repeated key keeps the last entry, and a non-finite float becomes
    /// `null`.
    fn from(v: JsonValue) -> Self {
        match v {
            JsonValue::Null => serde_json::Value::Null,
            JsonValue::Bool(b) => serde_json::Value::Bool(b),
            JsonValue::Number(n) => n.into(),
            JsonValue::String(s) => serde_json::Value::String(s),
            JsonValue::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(Into::into).collect())
            }
            JsonValue::Object(o) => {
                serde_json::Value::Object(o.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

impl From<&ArchivedJsonNumber> for serde_json::Value {
    fn from(n: &ArchivedJsonNumber) -> Self {
        match n {
            ArchivedJsonNumber::PosInt(u) => u.to_native().into(),
            ArchivedJsonNumber::NegInt(i) => i.to_native().into(),
            ArchivedJsonNumber::Float(f) => JsonNumber::Float(f.to_native()).into(),
        }
    }
}

impl From<&ArchivedJsonValue> for serde_json::Value {
    /// Builds a `serde_json::Value` straight from an archive, without an
    /// intermediate [`JsonValue`].
    fn from(v: &ArchivedJsonValue) -> Self {
        match v {
            ArchivedJsonValue::Null => serde_json::Value::Null,
            ArchivedJsonValue::Bool(b) => serde_json::Value::Bool(*b),
            ArchivedJsonValue::Number(n) => n.into(),
            ArchivedJsonValue::String(s) => serde_json::Value::String(s.as_str().to_owned()),
            ArchivedJsonValue::Array(a) => {
                serde_json::Value::Array(a.iter().map(Into::into).collect())
            }
            ArchivedJsonValue::Object(o) => serde_json::Value::Object(
                o.iter()
                    .map(|e| (e.0.as_str().to_owned(), (&e.1).into()))
                    .collect(),
            ),
        }
    }
}

impl serde::Serialize for JsonValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            JsonValue::Null => s.serialize_unit(),
            JsonValue::Bool(b) => s.serialize_bool(*b),
            JsonValue::Number(JsonNumber::PosInt(u)) => s.serialize_u64(*u),
            JsonValue::Number(JsonNumber::NegInt(i)) => s.serialize_i64(*i),
            JsonValue::Number(JsonNumber::Float(f)) => s.serialize_f64(*f),
            JsonValue::String(v) => s.serialize_str(v),
            JsonValue::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            JsonValue::Object(o) => {
                let mut map = s.serialize_map(Some(o.len()))?;
                for (k, v) in o {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for JsonValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(JsonValue::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_kind_of_value() {
        let v = json!({
            "null": null, "t": true, "f": false, "u": u64::MAX, "i": i64::MIN,
            "x": -0.5, "s": "√ünicode", "a": [1, [2, [3, {}]], []], "o": {"z": 1, "a": 2}
        });
        assert_eq!(serde_json::Value::from(JsonValue::from(v.clone())), v);
    }

    #[test]
    fn serde_form_is_plain_json() {
        let v = json!({"a": [1, -2, 2.5, "x", null, true]});
        let text = serde_json::to_string(&JsonValue::from(v.clone())).unwrap();
        assert_eq!(text, serde_json::to_string(&v).unwrap());
        let back: JsonValue = serde_json::from_str(&text).unwrap();
        assert_eq!(serde_json::Value::from(back), v);
    }

    #[test]
    fn archive_converts_straight_to_serde_json() {
        let v = json!({"k": [1, -1, 1.5, "s", {"n": null}]});
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&JsonValue::from(v.clone())).unwrap();
        let archived = rkyv::access::<ArchivedJsonValue, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(serde_json::Value::from(archived), v);
    }

    #[test]
    fn non_finite_float_becomes_null() {
        assert_eq!(
            serde_json::Value::from(JsonValue::Number(JsonNumber::Float(f64::NAN))),
            serde_json::Value::Null
        );
    }
}
