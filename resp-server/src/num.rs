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

/// Formats a score with the shortest digits that read back to the same
/// double, laid out as C's `%.17g` (Redis 7.2+ `fpconv_dtoa`): fixed
/// notation for decimal exponents -4 to 16 (`0.1`, `3`, `1e-05` below),
/// else `d.ddde+XX` with at least two exponent digits; `inf`, `-inf`,
/// and `-0` for negative zero. Returns the number of bytes written to
/// `out`.
pub fn format_double(v: f64, out: &mut [u8; 40]) -> usize {
    let mut n = 0;
    let mut put = |out: &mut [u8; 40], b: u8| {
        out[n] = b;
        n += 1;
    };
    if v.is_nan() {
        out[..3].copy_from_slice(b"nan");
        return 3;
    }
    if v.is_sign_negative() {
        put(out, b'-');
    }
    if v.is_infinite() {
        for &b in b"inf" {
            put(out, b);
        }
        return n;
    }
    if v == 0.0 {
        put(out, b'0');
        return n;
    }
    let mut rb = ryu::Buffer::new();
    let s = rb.format_finite(v.abs()).as_bytes();
    let (mant, exp10) = match s.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => (
            &s[..e],
            std::str::from_utf8(&s[e + 1..])
                .ok()
                .and_then(|e| e.parse::<i32>().ok())
                .unwrap_or(0),
        ),
        None => (s, 0),
    };
    let int_len = mant.iter().position(|&c| c == b'.').unwrap_or(mant.len());
    // All mantissa digits; the first has decimal exponent int_len - 1 + exp10.
    let mut digits = [0u8; 32];
    let mut nd = 0;
    for &c in mant.iter().filter(|c| c.is_ascii_digit()) {
        if nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    let mut x = int_len as i32 - 1 + exp10;
    let lead = digits[..nd].iter().take_while(|&&d| d == b'0').count();
    digits.copy_within(lead..nd, 0);
    nd -= lead;
    x -= lead as i32;
    while nd > 1 && digits[nd - 1] == b'0' {
        nd -= 1;
    }
    let digits = &digits[..nd];
    if (-4..17).contains(&x) {
        if x >= 0 {
            let x = x as usize;
            for k in 0..=x {
                put(out, digits.get(k).copied().unwrap_or(b'0'));
            }
            if digits.len() > x + 1 {
                put(out, b'.');
                for &d in &digits[x + 1..] {
                    put(out, d);
                }
            }
        } else {
            put(out, b'0');
            put(out, b'.');
            for _ in 0..(-x - 1) {
                put(out, b'0');
            }
            for &d in digits {
                put(out, d);
            }
        }
    } else {
        put(out, digits[0]);
        if digits.len() > 1 {
            put(out, b'.');
            for &d in &digits[1..] {
                put(out, d);
            }
        }
        put(out, b'e');
        put(out, if x < 0 { b'-' } else { b'+' });
        let ax = x.unsigned_abs();
        if ax >= 100 {
            put(out, b'0' + (ax / 100) as u8);
        }
        put(out, b'0' + (ax / 10 % 10) as u8);
        put(out, b'0' + (ax % 10) as u8);
    }
    n
}

/// Parses a scan cursor as Redis' `parseScanCursorOrReply` (C `strtoul`):
/// optional `+` or `-` (a negative number wraps), digits, nothing else;
/// the empty string is 0; overflow is invalid.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg {
        [] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
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
        let mut out = [0u8; 40];
        let n = format_double(v, &mut out);
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn g17_format() {
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(f64::INFINITY), "inf");
        assert_eq!(g17(1e21), "1e+21");
        assert_eq!(g17(1.25e-7), "1.25e-07");
        assert_eq!(g17(1e-5), "1e-05");
        assert_eq!(g17(0.0001), "0.0001");
        assert_eq!(g17(0.1), "0.1");
        assert_eq!(g17(1e16), "10000000000000000");
        assert_eq!(g17(1e17), "1e+17");
        assert_eq!(g17(100.0), "100");
    }

    #[test]
    fn cursor_parsing_matches_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        for bad in [&b"-"[..], b"+", b" 0", b"0x1", b"1 ", b"abc"] {
            assert_eq!(parse_cursor(bad), None, "{bad:?}");
        }
    }
}
