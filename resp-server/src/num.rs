//! Number parsing and formatting with Redis' exact rules.
//!
//! Redis accepts integers through `string2ll` (src/util.c): optional `-`,
//! no `+`, no leading zeros, no spaces, within `i64`. Scores parse as
//! `strtod` does, with leading spaces, trailing bytes and NaN refused;
//! `INCRBYFLOAT`'s `long double` arithmetic lives in [`crate::longdouble`].

/// Parses `bytes` as Redis' `string2ll` does: the canonical decimal form of an
/// `i64` only (`"0"`, `"-12"`; not `"+1"`, `"01"`, `"-0"`, `" 1"`).
#[inline]
pub fn parse_i64_canonical(bytes: &[u8]) -> Option<i64> {
    let (neg, digits) = match bytes {
        [] => return None,
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    if digits.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a non-negative integer that fits `usize`, in Redis' canonical form.
pub fn parse_usize(bytes: &[u8]) -> Option<usize> {
    parse_i64_canonical(bytes).and_then(|n| usize::try_from(n).ok())
}

/// Parses a float as Redis' `strtod` checks (`getDoubleFromObject`): decimal or exponent form,
/// `inf`/`infinity` with a sign; no leading space, no trailing bytes, no NaN.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    if bytes.is_empty() || bytes.len() > 5120 || bytes[0].is_ascii_whitespace() {
        return None;
    }
    let s = std::str::from_utf8(bytes).ok()?;
    let v: f64 = s.parse().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Formats `v` as `printf("%.17g")` would with shortest round-trip digits:
/// Redis 7 uses this form (`fpconv_dtoa`) for scores and RESP2 doubles.
/// Infinities print as `inf`/`-inf`.
pub fn format_f64_g17(v: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    let exp = v.abs().log10().floor() as i32;
    if (-5..21).contains(&exp) {
        let _ = write!(out, "{v}");
    } else {
        // Exponent form like %g: mantissa, 'e', sign, at least two digits.
        let s = format!("{v:e}");
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let _ = write!(
            out,
            "{mant}e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_integers() {
        for (s, v) in [
            ("0", Some(0)),
            ("1", Some(1)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("99999999999999999999", None),
            ("", None),
            ("-", None),
            ("-0", None),
            ("00", None),
            ("01", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("1a", None),
        ] {
            assert_eq!(parse_i64_canonical(s.as_bytes()), v, "{s:?}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"+1.5"), Some(1.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b""), None);
    }

    fn g17(v: f64) -> String {
        let mut out = Vec::new();
        format_f64_g17(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn g17_format() {
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(f64::INFINITY), "inf");
        assert_eq!(g17(1e21), "1e+21");
        assert_eq!(g17(1.25e-7), "1.25e-07");
        assert_eq!(g17(100.0), "100");
    }
}
