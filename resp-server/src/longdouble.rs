//! A software x87 80-bit extended float, for `INCRBYFLOAT`.
//!
//! Redis computes `INCRBYFLOAT` in C `long double`, which on x86-64 is the
//! x87 double extended-precision format (Intel 64 and IA-32 Architectures
//! Software Developer's Manual, Vol. 1, §4.2.2 "Floating-Point Data Types"
//! and §4.8 "Real Numbers and Floating-Point Formats"): a sign, a 15-bit
//! exponent biased by 16383 and a 64-bit significand whose integer bit is
//! explicit. Exponent 0 holds zero and the subnormals; exponent `0x7FFF`
//! with significand `0x8000_0000_0000_0000` is an infinity.
//!
//! Redis' pipeline (src/util.c and src/t_string.c, Redis 7.0) is reproduced
//! bit for bit:
//! - [`LongDouble::parse`] is `string2ld`: glibc `strtold` (decimal,
//!   exponent, hexadecimal `0x1.8p3`, `inf`/`infinity`), correctly rounded
//!   to nearest-even, refusing empty input, input of 5120 bytes or more,
//!   leading spaces, trailing bytes, NaN, and results that overflow to an
//!   infinity or underflow to zero (`ERANGE`).
//! - `+` ([`std::ops::Add`]) is the x87 addition, correctly rounded.
//! - [`LongDouble::format_human`] is `ld2string(.., LD_STR_HUMAN)`:
//!   `snprintf("%.17Lf")` (C11 7.21.6.1: the exact decimal value rounded
//!   to 17 decimals; glibc rounds exact ties to even), then trailing zeros
//!   and a trailing `.` removed, and `-0` printed as `0`.
//!
//! Exact big-integer arithmetic (a small `Big` type) makes every conversion
//! exact; values that fit 128 bits take allocation-free paths.
//!
//! # Examples
//! ```
//! use resp_server::longdouble::LongDouble;
//! let a = LongDouble::parse(b"34359738371").unwrap();
//! let b = LongDouble::parse(b"0.01").unwrap();
//! let mut out = Vec::new();
//! (a + b).format_human(&mut out);
//! assert_eq!(out, b"34359738371.01000000163912773"); // as Redis replies
//! ```

use std::cmp::Ordering;
use std::ops::Add;

/// `MAX_LONG_DOUBLE_CHARS` in Redis' src/util.h: `string2ld` refuses input
/// of this length or more, and `ld2string` fails (returns 0, so
/// `INCRBYFLOAT` would store an empty string) when its output needs this
/// much room. `%.17Lf` of a finite 80-bit value has at most 4952 bytes
/// (`-`, 4933 digits, `.`, 17 decimals), so that failure cannot happen.
pub const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// Exponent bias of the 80-bit format.
const BIAS: i64 = 16383;
/// Biased exponent of infinities and NaNs.
const EXP_SPECIAL: u16 = 0x7FFF;
/// The explicit integer bit of a normal significand.
const INT_BIT: u64 = 1 << 63;
/// Power of two of the significand's last bit for exponent fields 0 and 1:
/// `1 - BIAS - 63`. Every finite value is `mantissa * 2^e` with `e >= MIN_E`.
const MIN_E: i64 = 1 - BIAS - 63;
/// `10^17`: `%.17Lf` prints this many decimals.
const TEN_POW_17: u128 = 100_000_000_000_000_000;

/// An x87 80-bit extended-precision value (Intel SDM Vol. 1 §4.2.2).
///
/// A finite value is `mantissa * 2^(max(exponent, 1) - 16383 - 63)`,
/// negated when `negative`. Values built by this module are canonical:
/// normal values have the integer bit (bit 63) set, exponent 0 holds zero
/// and the subnormals, and exponent `0x7FFF` holds the infinities
/// (mantissa `1 << 63`) and NaN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    /// The sign bit; zero has both signs, as in the hardware.
    pub negative: bool,
    /// The 15-bit exponent field, biased by 16383.
    pub exponent: u16,
    /// The 64-bit significand, integer bit included.
    pub mantissa: u64,
}

impl LongDouble {
    /// Positive zero.
    pub const ZERO: LongDouble = LongDouble {
        negative: false,
        exponent: 0,
        mantissa: 0,
    };
    /// Positive infinity.
    pub const INFINITY: LongDouble = LongDouble {
        negative: false,
        exponent: EXP_SPECIAL,
        mantissa: INT_BIT,
    };
    /// The x87 default NaN ("real indefinite"), which `inf + -inf` yields.
    pub const NAN: LongDouble = LongDouble {
        negative: true,
        exponent: EXP_SPECIAL,
        mantissa: 0xC000_0000_0000_0000,
    };

    /// Zero with the given sign.
    const fn zero(negative: bool) -> LongDouble {
        LongDouble {
            negative,
            exponent: 0,
            mantissa: 0,
        }
    }

    /// Infinity with the given sign.
    const fn infinity(negative: bool) -> LongDouble {
        LongDouble {
            negative,
            ..LongDouble::INFINITY
        }
    }

    /// The exact value of `n` (every `i64` fits the 64-bit significand), as
    /// C's `(long double)n`.
    pub fn from_i64(n: i64) -> LongDouble {
        round(n < 0, n.unsigned_abs() as u128, 0, false)
    }

    /// Whether the value is neither infinite nor NaN.
    pub fn is_finite(&self) -> bool {
        self.exponent != EXP_SPECIAL
    }

    /// Whether the value is NaN.
    pub fn is_nan(&self) -> bool {
        self.exponent == EXP_SPECIAL && self.mantissa != INT_BIT
    }

    /// Whether the value is `+0` or `-0`.
    pub fn is_zero(&self) -> bool {
        self.is_finite() && self.mantissa == 0
    }

    /// A finite value as `(significand, e)` with value `significand * 2^e`.
    fn parts(&self) -> (u64, i64) {
        (self.mantissa, i64::from(self.exponent.max(1)) - BIAS - 63)
    }

    /// Parses `bytes` as Redis' `string2ld` (src/util.c) does with glibc's
    /// `strtold`: an optional sign, then `inf`/`infinity` (any case), a
    /// hexadecimal float (`0x10`, `0x1.8p-3`) or a decimal one (`1`, `.5`,
    /// `1.`, `2.5e-3`), rounded to nearest-even.
    ///
    /// Returns None where Redis replies "value is not a valid float": empty
    /// input, [`MAX_LONG_DOUBLE_CHARS`] bytes or more, leading whitespace,
    /// trailing bytes, NaN, and a finite text that overflows to an infinity
    /// (`1e5000`) or underflows to zero (`1e-5000`); `strtold` flags both
    /// with `ERANGE`, which `string2ld` refuses. Values beyond the `f64`
    /// range (`1e400`) and subnormals (`1e-4950`) are accepted.
    pub fn parse(bytes: &[u8]) -> Option<LongDouble> {
        if bytes.is_empty() || bytes.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let (negative, rest) = match bytes[0] {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble::infinity(negative));
        }
        match rest {
            [b'0', b'x' | b'X', hex @ ..] => parse_hex(negative, hex),
            _ => parse_decimal(negative, rest),
        }
    }

    /// Appends exactly what glibc's `printf("%.17Lf", v)` prints: the
    /// exact decimal value rounded to 17 decimals, exact ties to even
    /// (C11 7.21.6.1 `f` conversion; `inf`/`-inf`/`nan`/`-nan` otherwise).
    pub fn format_fixed17(&self, out: &mut Vec<u8>) {
        if !self.is_finite() {
            if self.negative {
                out.push(b'-');
            }
            out.extend_from_slice(if self.is_nan() { b"nan" } else { b"inf" });
            return;
        }
        if self.negative {
            out.push(b'-');
        }
        let (m, e) = self.parts();
        if e >= 0 {
            // An integer: m * 2^e, up to 4933 digits.
            if e < 64 {
                push_u128(out, (m as u128) << e);
            } else {
                let mut n = Big::from_u128(m as u128);
                n.shl(e as u64);
                n.push_decimal(out);
            }
            out.extend_from_slice(b".00000000000000000");
            return;
        }
        // m * 10^17 < 2^121; dividing by 2^-e and rounding gives the value
        // in units of 10^-17.
        let scaled = m as u128 * TEN_POW_17;
        let shift = -e;
        let units = if shift >= 128 {
            0 // below half a unit: scaled < 2^121 <= 2^(shift - 1)
        } else {
            let q = scaled >> shift;
            let rem = scaled & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if rem > half || (rem == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        };
        push_u128(out, units / TEN_POW_17);
        out.push(b'.');
        let frac = units % TEN_POW_17;
        let mut digits = [b'0'; 17];
        let mut rest = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&digits);
    }

    /// Appends the value as Redis' `ld2string(.., LD_STR_HUMAN)` formats it
    /// for `INCRBYFLOAT` (src/util.c): `%.17Lf`, then trailing zeros and a
    /// trailing `.` removed, and `-0` replaced by `0`. Infinities print as
    /// `inf`/`-inf`, as `ld2string` writes them.
    ///
    /// The result never exceeds [`MAX_LONG_DOUBLE_CHARS`], so the `ld2string`
    /// "no room" failure cannot happen.
    pub fn format_human(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.format_fixed17(out);
        if out[start..].contains(&b'.') {
            while out.last() == Some(&b'0') {
                out.pop();
            }
            if out.last() == Some(&b'.') {
                out.pop();
            }
        }
        if &out[start..] == b"-0" {
            out.truncate(start);
            out.push(b'0');
        }
    }
}

impl Add for LongDouble {
    type Output = LongDouble;

    /// The x87 addition in round-to-nearest-even: exact sum, rounded once.
    /// `inf + -inf` and NaN operands give NaN; `x + -x` is `+0`, and
    /// `-0 + -0` is `-0` (IEEE 754 §6.3).
    fn add(self, rhs: LongDouble) -> LongDouble {
        if self.is_nan() || rhs.is_nan() {
            return LongDouble::NAN;
        }
        match (self.is_finite(), rhs.is_finite()) {
            (false, false) if self.negative != rhs.negative => return LongDouble::NAN,
            (false, _) => return self,
            (true, false) => return rhs,
            (true, true) => {}
        }
        // Order by magnitude: a larger (e, m) is a larger value, since any
        // value above the smallest exponent is normal.
        let (a, b) = if (self.parts().1, self.mantissa) >= (rhs.parts().1, rhs.mantissa) {
            (self, rhs)
        } else {
            (rhs, self)
        };
        if b.mantissa == 0 {
            if a.mantissa == 0 {
                return LongDouble::zero(a.negative && b.negative);
            }
            return a;
        }
        let (ma, ea) = a.parts();
        let (mb, eb) = b.parts();
        // Both significands widened by 62 bits: the sum stays below 2^127,
        // and bits of b shifted out only when a is normal and at least
        // 2^125, far above the rounding point.
        let a_sig = (ma as u128) << 62;
        let b_full = (mb as u128) << 62;
        let d = ea - eb;
        let (b_sig, sticky) = if d >= 127 {
            (0, true)
        } else {
            (b_full >> d, b_full & ((1u128 << d) - 1) != 0)
        };
        let exp2 = ea - 62;
        if a.negative == b.negative {
            round(a.negative, a_sig + b_sig, exp2, sticky)
        } else if a_sig == b_sig && !sticky {
            LongDouble::ZERO
        } else {
            // a - (b_sig + f) with 0 < f < 1 when sticky equals
            // (a_sig - b_sig - 1) + (1 - f): the fraction stays nonzero.
            round(a.negative, a_sig - b_sig - u128::from(sticky), exp2, sticky)
        }
    }
}

/// Rounds `(sig + f) * 2^exp2` to the nearest [`LongDouble`], ties to even,
/// where `0 <= f < 1` and `f > 0` exactly when `sticky`. Overflow gives an
/// infinity; results below the normal range become subnormal or zero.
///
/// Callers that set `sticky` keep at least 65 significant bits in `sig`, so
/// the rounding point always lies above the bits folded into `sticky`.
fn round(negative: bool, sig: u128, exp2: i64, sticky: bool) -> LongDouble {
    let bits = i64::from(128 - sig.leading_zeros());
    // Power of two of the result's last significand bit.
    let mut lsb = (exp2 + bits - 64).max(MIN_E);
    let shift = lsb - exp2;
    let m = if shift <= 0 {
        // Exact: fewer than 64 bits, shifted into place.
        (sig << -shift) as u64
    } else {
        let kept = if shift >= 128 { 0 } else { sig >> shift };
        let half_bit = shift <= 128 && (sig >> (shift - 1)) & 1 == 1;
        let below = if shift >= 129 {
            sig != 0
        } else {
            sig & ((1u128 << (shift - 1)) - 1) != 0
        };
        let up = half_bit && (below || sticky || kept & 1 == 1);
        let rounded = kept + u128::from(up);
        if rounded >> 64 != 0 {
            lsb += 1;
            INT_BIT
        } else {
            rounded as u64
        }
    };
    if m == 0 {
        return LongDouble::zero(negative);
    }
    let biased = if m & INT_BIT != 0 { lsb - MIN_E + 1 } else { 0 };
    if biased >= i64::from(EXP_SPECIAL) {
        return LongDouble::infinity(negative);
    }
    LongDouble {
        negative,
        exponent: biased as u16,
        mantissa: m,
    }
}

/// Rejects what `strtold` flags with `ERANGE` and `string2ld` refuses: an
/// overflow to infinity, or a nonzero text that rounds to zero.
fn in_range(v: LongDouble) -> Option<LongDouble> {
    if v.is_finite() && !v.is_zero() {
        Some(v)
    } else {
        None
    }
}

/// Splits `s` into its leading run of bytes matching `f` and the rest.
fn take_while(s: &[u8], f: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = s.iter().position(|&b| !f(b)).unwrap_or(s.len());
    s.split_at(n)
}

/// Parses a whole exponent `[+-]digits`, saturating far beyond any
/// exponent that can matter (input is under 5120 bytes).
fn parse_exponent(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &b| {
        (acc * 10 + i64::from(b - b'0')).min(1_000_000_000)
    });
    Some(if negative { -v } else { v })
}

/// The mantissa of a float literal: digits, an optional point, digits (at
/// least one digit in all), followed by an optional exponent introduced by
/// one of `marks`. Returns (integer digits, fraction digits, exponent).
fn split_literal(
    s: &[u8],
    is_digit: impl Fn(u8) -> bool + Copy,
    marks: [u8; 2],
) -> Option<(&[u8], &[u8], i64)> {
    let (int, rest) = take_while(s, is_digit);
    let (frac, rest) = match rest {
        [b'.', after @ ..] => take_while(after, is_digit),
        _ => (&rest[..0], rest),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let exp = match rest {
        [] => 0,
        [mark, e @ ..] if marks.contains(mark) => parse_exponent(e)?,
        _ => return None,
    };
    Some((int, frac, exp))
}

/// Parses the part of a hexadecimal float after `0x`: hex digits with an
/// optional point and an optional binary exponent `p[+-]digits`.
fn parse_hex(negative: bool, s: &[u8]) -> Option<LongDouble> {
    let (int, frac, exp) = split_literal(s, |b| b.is_ascii_hexdigit(), [b'p', b'P'])?;
    // Keep the first 124+ significant bits; later digits only shift the
    // exponent (integer part) or join the sticky bit.
    let mut sig: u128 = 0;
    let mut exp2 = exp;
    let mut sticky = false;
    let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0);
    for (i, &b) in int.iter().chain(frac).enumerate() {
        let d = digit(b);
        let in_frac = i >= int.len();
        if sig >> 124 == 0 {
            sig = (sig << 4) | u128::from(d);
            if in_frac {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !in_frac {
                exp2 += 4;
            }
        }
    }
    if sig == 0 {
        return Some(LongDouble::zero(negative));
    }
    in_range(round(negative, sig, exp2, sticky))
}

/// Parses a decimal float: the value `digits * 10^exp`, correctly rounded.
fn parse_decimal(negative: bool, s: &[u8]) -> Option<LongDouble> {
    let (int, frac, exp) = split_literal(s, |b| b.is_ascii_digit(), [b'e', b'E'])?;
    let all = || int.iter().chain(frac).copied();
    let total = int.len() + frac.len();
    let leading = all().take_while(|&b| b == b'0').count();
    if leading == total {
        return Some(LongDouble::zero(negative));
    }
    let trailing = all().rev().take_while(|&b| b == b'0').count();
    let n = total - leading - trailing;
    let digits = || all().skip(leading).take(n).map(|b| u32::from(b - b'0'));
    // The value is digits * 10^exp10 with digits of n digits, no zeros at
    // either end: 10^(n - 1 + exp10) <= value < 10^(n + exp10).
    let exp10 = exp - frac.len() as i64 + trailing as i64;
    let magnitude = n as i64 + exp10;
    if magnitude > 4933 {
        return None; // >= 1e4933, above the largest finite (1.19e4932)
    }
    if magnitude <= -4951 {
        return None; // < 1e-4951, below half the least subnormal (3.6e-4951)
    }
    let v = if n <= 19 && (-18..=19).contains(&exp10) {
        let d = digits().fold(0u64, |acc, x| acc * 10 + u64::from(x));
        decimal_small(negative, d, exp10)
    } else {
        decimal_exact(negative, digits(), exp10)
    };
    in_range(v)
}

/// `d * 10^exp10` rounded, for `d < 10^19` and `-18 <= exp10 <= 19`:
/// every intermediate fits in `u128`, so nothing allocates.
fn decimal_small(negative: bool, d: u64, exp10: i64) -> LongDouble {
    if exp10 >= 0 {
        // d * 10^19 < 10^38 < 2^127.
        return round(negative, d as u128 * 10u128.pow(exp10 as u32), 0, false);
    }
    // q = d * 2^k / 10^-exp10 has 65 or 66 bits; d * 2^k has at most
    // 66 + 60 bits since 10^18 < 2^60.
    let den = 10u128.pow((-exp10) as u32);
    let k = 66 + bit_len(den) - bit_len(u128::from(d));
    let num = u128::from(d) << k;
    round(negative, num / den, -k, !num.is_multiple_of(den))
}

/// `digits * 10^exp10` rounded, exactly, with big integers: the value is
/// `num / den`, scaled by powers of two so that one division gives a
/// quotient of 66 or 67 bits, and the remainder tells whether it was exact.
fn decimal_exact(negative: bool, digits: impl Iterator<Item = u32>, exp10: i64) -> LongDouble {
    let mut num = Big::default();
    let mut chunk = 0u32;
    let mut chunk_len = 0;
    for x in digits {
        chunk = chunk * 10 + x;
        chunk_len += 1;
        if chunk_len == 9 {
            num.mul_small(1_000_000_000);
            num.add_small(chunk);
            chunk = 0;
            chunk_len = 0;
        }
    }
    num.mul_small(10u32.pow(chunk_len));
    num.add_small(chunk);
    let mut den = Big::from_u128(1);
    if exp10 >= 0 {
        num.mul_pow10(exp10.unsigned_abs());
    } else {
        den.mul_pow10(exp10.unsigned_abs());
    }
    let (nb, db) = (num.bit_len() as i64, den.bit_len() as i64);
    let k = (66 + db - nb).max(0);
    let j = (nb - db - 66).max(0);
    num.shl(k as u64);
    den.shl(j as u64);
    let q = num.div_rem(&den);
    round(negative, q, j - k, !num.is_zero())
}

/// Number of significant bits of `v`.
fn bit_len(v: u128) -> i64 {
    i64::from(128 - v.leading_zeros())
}

/// Appends the decimal digits of `v`.
fn push_u128(out: &mut Vec<u8>, mut v: u128) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// An unsigned big integer: little-endian base-2^32 limbs without high zero
/// limbs. Just the operations exact float conversion needs; sizes stay
/// under 35,000 bits (10^10071 at most).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big {
    limbs: Vec<u32>,
}

impl Big {
    /// `v` as a big integer.
    fn from_u128(mut v: u128) -> Big {
        let mut limbs = Vec::new();
        while v != 0 {
            limbs.push(v as u32);
            v >>= 32;
        }
        Big { limbs }
    }

    /// Whether the value is zero.
    fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    /// Number of significant bits.
    fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            Some(&top) => self.limbs.len() as u64 * 32 - u64::from(top.leading_zeros()),
            None => 0,
        }
    }

    /// Drops high zero limbs.
    fn trim(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    /// `self *= m`.
    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
        self.trim();
    }

    /// `self += a`.
    fn add_small(&mut self, a: u32) {
        let mut carry = a;
        for limb in &mut self.limbs {
            if carry == 0 {
                return;
            }
            let (v, overflow) = limb.overflowing_add(carry);
            *limb = v;
            carry = u32::from(overflow);
        }
        if carry != 0 {
            self.limbs.push(carry);
        }
    }

    /// `self *= 10^n`.
    fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n as u32));
    }

    /// `self <<= bits`.
    fn shl(&mut self, bits: u64) {
        if self.is_zero() {
            return;
        }
        let (words, bits) = ((bits / 32) as usize, (bits % 32) as u32);
        if bits != 0 {
            let mut carry = 0u32;
            for limb in &mut self.limbs {
                let v = (*limb << bits) | carry;
                carry = *limb >> (32 - bits);
                *limb = v;
            }
            if carry != 0 {
                self.limbs.push(carry);
            }
        }
        self.limbs.splice(0..0, std::iter::repeat_n(0, words));
    }

    /// `self >>= 1`.
    fn shr1(&mut self) {
        let mut carry = 0u32;
        for limb in self.limbs.iter_mut().rev() {
            let v = (*limb >> 1) | carry;
            carry = *limb << 31;
            *limb = v;
        }
        self.trim();
    }

    /// Compares two values.
    fn cmp(&self, other: &Big) -> Ordering {
        self.limbs
            .len()
            .cmp(&other.limbs.len())
            .then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }

    /// `self -= other`; requires `self >= other`.
    fn sub_assign(&mut self, other: &Big) {
        let mut borrow = false;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let o = other.limbs.get(i).copied().unwrap_or(0);
            if o == 0 && !borrow && i >= other.limbs.len() {
                break;
            }
            let (v, b1) = limb.overflowing_sub(o);
            let (v, b2) = v.overflowing_sub(u32::from(borrow));
            *limb = v;
            borrow = b1 || b2;
        }
        self.trim();
    }

    /// Divides by `den`, leaving the remainder in `self` and returning the
    /// quotient, which callers keep under 2^128 (its high bits are lost
    /// otherwise). Schoolbook binary long division: one compare-subtract
    /// per quotient bit.
    fn div_rem(&mut self, den: &Big) -> u128 {
        if den.is_zero() || self.cmp(den) == Ordering::Less {
            return 0;
        }
        let top = self.bit_len() - den.bit_len();
        let mut d = den.clone();
        d.shl(top);
        let mut q = 0u128;
        for _ in 0..=top {
            q <<= 1;
            if self.cmp(&d) != Ordering::Less {
                self.sub_assign(&d);
                q |= 1;
            }
            d.shr1();
        }
        q
    }

    /// `self /= d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for limb in self.limbs.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    /// Appends the decimal digits of the value.
    fn push_decimal(mut self, out: &mut Vec<u8>) {
        let mut chunks = Vec::with_capacity(self.limbs.len() * 32 / 29 + 1);
        while !self.is_zero() {
            chunks.push(self.div_small(1_000_000_000));
        }
        let Some((&top, rest)) = chunks.split_last() else {
            out.push(b'0');
            return;
        };
        push_u128(out, u128::from(top));
        for &c in rest.iter().rev() {
            let mut digits = [b'0'; 9];
            let mut v = c;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
            out.extend_from_slice(&digits);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn human(v: LongDouble) -> String {
        let mut out = Vec::new();
        v.format_human(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// INCRBYFLOAT's computation: `value + incr` formatted, or the error.
    fn incr(value: Option<&str>, incr: &str) -> String {
        let current = match value {
            None => LongDouble::ZERO,
            Some(v) => match LongDouble::parse(v.as_bytes()) {
                Some(v) => v,
                None => return "ERR value is not a valid float".into(),
            },
        };
        let Some(by) = LongDouble::parse(incr.as_bytes()) else {
            return "ERR value is not a valid float".into();
        };
        let sum = current + by;
        if !sum.is_finite() {
            return "ERR increment would produce NaN or Infinity".into();
        }
        human(sum)
    }

    #[test]
    fn format_and_parse_known_bit_patterns() {
        let one = LongDouble::parse(b"1").unwrap();
        assert_eq!(
            one,
            LongDouble {
                negative: false,
                exponent: 16383,
                mantissa: INT_BIT
            }
        );
        assert_eq!(LongDouble::from_i64(1), one);
        let min_sub = LongDouble::parse(b"0x1p-16445").unwrap();
        assert_eq!((min_sub.exponent, min_sub.mantissa), (0, 1));
        let max = LongDouble::parse(b"0x1.fffffffffffffffep16383").unwrap();
        assert_eq!((max.exponent, max.mantissa), (0x7FFE, u64::MAX));
        let mut out = Vec::new();
        max.format_fixed17(&mut out);
        assert_eq!(out.len(), 4933 + 18);
        assert!(out.len() < MAX_LONG_DOUBLE_CHARS);
        // Rounds up past the largest finite value: ERANGE.
        assert_eq!(LongDouble::parse(b"0x1.ffffffffffffffffp16383"), None);
        assert_eq!(LongDouble::parse(b"0x1p16384"), None);
        assert_eq!(LongDouble::parse(b"0x1p-16446"), None); // a tie, to zero
        assert!(LongDouble::parse(b"0x1.0000001p-16446").is_some());
    }

    #[test]
    fn syntax_as_strtold() {
        for ok in [
            "1",
            "+1",
            "-1",
            "1.",
            ".5",
            "-.5",
            "1e3",
            "1E+3",
            "1e-3",
            "0x10",
            "0X1P3",
            "0x.8",
            "0x1.",
            "inf",
            "-INF",
            "Infinity",
            "+infinity",
            "-0",
            "0e-99999",
            "00012",
        ] {
            assert!(LongDouble::parse(ok.as_bytes()).is_some(), "{ok:?}");
        }
        for bad in [
            "",
            " 1",
            "1 ",
            "\t1",
            "1\0",
            ".",
            "-",
            "+",
            "e5",
            "1e",
            "1e+",
            "0x",
            "0x.",
            "0x1p",
            "nan",
            "-nan",
            "nan(1)",
            "infin",
            "inf ",
            "1..2",
            "1.2.3",
            "0x1g",
            "--1",
            "+-1",
            "1e5000",
            "-1e5000",
            "1e-5000",
            "0x1p-99999",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        let long = "1".repeat(MAX_LONG_DOUBLE_CHARS);
        assert_eq!(LongDouble::parse(long.as_bytes()), None);
        let long = format!("0.{}", "0".repeat(MAX_LONG_DOUBLE_CHARS - 4)) + "1";
        assert_eq!(long.len(), MAX_LONG_DOUBLE_CHARS - 1);
        // 1e-5117 underflows to zero: refused.
        assert_eq!(LongDouble::parse(long.as_bytes()), None);
    }

    #[test]
    fn addition_signs_and_specials() {
        let p = |s: &str| LongDouble::parse(s.as_bytes()).unwrap();
        assert_eq!(p("-0") + p("-0"), LongDouble::zero(true));
        assert_eq!(p("-0") + p("0"), LongDouble::ZERO);
        assert_eq!(p("1.5") + p("-1.5"), LongDouble::ZERO);
        assert!((p("inf") + p("-inf")).is_nan());
        assert_eq!(p("inf") + p("1"), LongDouble::INFINITY);
        assert_eq!(p("1") + p("-inf"), LongDouble::infinity(true));
        assert!(!(p("0x1.fffffffffffffffep16383") + p("0x1p16319")).is_finite());
        assert!((p("0x1.fffffffffffffffep16383") + p("0x1p16318")).is_finite());
        // Subnormal sums and the step into the normal range.
        assert_eq!(p("0x1p-16445") + p("0x1p-16445"), p("0x1p-16444"));
        assert_eq!(
            p("0x0.fffffffffffffffep-16382") + p("0x1p-16445"),
            p("0x1p-16382")
        );
    }

    #[test]
    fn ties_round_to_even_in_printf() {
        // 2^-18 = 0.000003814697265625 has 18 decimals: a tie at the 17th.
        assert_eq!(incr(None, "0x1p-18"), "0.00000381469726562");
        assert_eq!(incr(None, "0x3p-18"), "0.00001144409179688");
    }

    #[test]
    fn fast_and_exact_decimal_paths_agree() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let d = (next() % 10_000_000_000_000_000_000) >> (next() % 64);
            let e = (next() % 38) as i64 - 18;
            let digits = d.to_string();
            let exact = decimal_exact(false, digits.bytes().map(|b| u32::from(b - b'0')), e);
            assert_eq!(decimal_small(false, d, e), exact, "{d}e{e}");
        }
    }

    /// Replies of Redis 7.0.15 (x86-64, glibc 2.36) to `INCRBYFLOAT k incr`
    /// after `SET k value` (None: no key).
    const REDIS_CASES: &[(Option<&str>, &str, &str)] = &[
        (None, "0.1", "0.1"),
        (Some("0.1"), "0.2", "0.3"),
        (Some("10.5"), "0.1", "10.6"),
        (Some("34359738371"), "0.01", "34359738371.01000000163912773"),
        (Some("1e308"), "1e308", "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"),
        (None, "0x10", "16"),
        (None, "1e400", "10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880"),
        (None, "1e-20", "0"),
        (None, "-1e-20", "0"),
        (None, "5.0e3", "5000"),
        (Some("9223372036854775807"), "1", "9223372036854775808"),
        (Some("9223372036854775807"), "0.5", "9223372036854775807.5"),
        (Some("-9223372036854775808"), "-1", "-9223372036854775809"),
        (Some("-9223372036854775808"), "-0.5", "-9223372036854775808"),
        (Some("18446744073709551615"), "1", "18446744073709551616"),
        (None, "-0", "0"),
        (Some("-0"), "-0", "0"),
        (Some("-0"), "0", "0"),
        (Some("3.0e3"), "-3000", "0"),
        (None, "1e5000", "ERR value is not a valid float"),
        (None, "-1e5000", "ERR value is not a valid float"),
        (None, "1e-5000", "ERR value is not a valid float"),
        (Some("1e5000"), "1", "ERR value is not a valid float"),
        (None, "inf", "ERR increment would produce NaN or Infinity"),
        (None, "-inf", "ERR increment would produce NaN or Infinity"),
        (Some("inf"), "1", "ERR increment would produce NaN or Infinity"),
        (None, "nan", "ERR value is not a valid float"),
        (Some("abc"), "1", "ERR value is not a valid float"),
        (None, "abc", "ERR value is not a valid float"),
        (None, " 1", "ERR value is not a valid float"),
        (None, "1 ", "ERR value is not a valid float"),
        (None, "0x1p-18", "0.00000381469726562"),
        (None, "0x3p-18", "0.00001144409179688"),
        (None, "-0x1.8p1", "-3"),
        (Some("1.18973149535723176502e4932"), "1.18973149535723176502e4932", "ERR increment would produce NaN or Infinity"),
        (Some("-1.18973149535723176502e4932"), "-1e4932", "ERR increment would produce NaN or Infinity"),
        (None, "1e-4950", "0"),
        (None, "3.6451995318824746025e-4951", "0"),
        (None, "1e-4951", "ERR value is not a valid float"),
        (Some("1"), "-0.99999999999999999", "0.00000000000000001"),
        (Some("1"), "-0.999999999999999999", "0"),
        (Some("0.00000000000000001"), "0.000000000000000005", "0.00000000000000002"),
        (Some("0.00000000000000001"), "0.000000000000000015", "0.00000000000000003"),
        (None, "123456789012345678901234567890", "123456789012345678899921813504"),
        (None, "-2.5", "-2.5"),
        (Some("1.5"), "-3", "-1.5"),
        (None, ".5", "0.5"),
        (None, "1.", "1"),
        (None, "+7", "7"),
        (None, "0x", "ERR value is not a valid float"),
        (None, "1e", "ERR value is not a valid float"),
        (None, "0e-99999", "0"),
        (None, "Infinity", "ERR increment would produce NaN or Infinity"),
        (None, "INF", "ERR increment would produce NaN or Infinity"),
        (Some("100"), "-100", "0"),
        (Some("1e20"), "-1", "100000000000000000000"),
        (Some("1e-17"), "0", "0.00000000000000001"),
        (None, "0.000000000000000005", "0"),
        (None, "0.000000000000000015", "0.00000000000000002"),
        (None, "0.000000000000000025", "0.00000000000000002"),
    ];

    /// Seeded random `(value, increment)` pairs and Redis 7.0.15's replies.
    const REDIS_RANDOM: &[(Option<&str>, &str, &str)] = &[
        (
            Some("0x9ba05.3fep-4"),
            "-3148.309867281858",
            "36692.01822720056387439",
        ),
        (
            Some("-5246658022653236560"),
            "-2434847142477.1",
            "-5246660457500379037",
        ),
        (
            Some("9322.000213635809"),
            "778337.96677605507",
            "787659.96698969087901787",
        ),
        (
            Some("-8384308368992"),
            "-.3495371390217677",
            "-8384308368992.34953737258911133",
        ),
        (
            Some("1954198553744846787"),
            "-.22689678138",
            "1954198553744846786.75",
        ),
        (
            Some("-4.9801568606543750000e+12"),
            "-15.6319",
            "-4980156860670.00689983367919922",
        ),
        (
            Some("-.98723591"),
            "-0xfdb11.a88p-23",
            "-1.11110886463122427",
        ),
        (Some("658.69264075841"), "-658.69264075841", "0"),
        (
            Some("390912297.28830"),
            "-0xdd33d.b2bp-17",
            "390912290.37571990661672316",
        ),
        (
            Some("92.0664254"),
            "-867589.28",
            "-867497.21357459999995854",
        ),
        (Some("240.45804e-15"), "-815.1", "-815.0999999999997595"),
        (
            Some("-570.45922e20"),
            "-85897718823445",
            "-57045922085897718824960",
        ),
        (
            Some("488.3428349988153"),
            "5.4e+04",
            "54488.34283499881529877",
        ),
        (Some(".17897663"), "-.17897663", "0"),
        (
            Some("6710085060915436457"),
            "-0x65a47.108p20",
            "6710084624364868521",
        ),
        (None, "9.2", "9.2"),
        (
            Some("-0x54455.8eap12"),
            "-423.27153e21",
            "-423271530000001413840896",
        ),
        (None, "-0x465a2.ec7p-36", "-0.00000419332243595"),
        (
            Some("-.7"),
            "-5243352468015621110",
            "-5243352468015621110.5",
        ),
        (None, "46925806670.8", "46925806670.80000000074505806"),
        (
            Some("983.5731e21"),
            "487.68715e9",
            "983573100000487687127040",
        ),
        (
            Some("-0xb23b8.6dp-26"),
            "-4.08780e+04",
            "-40878.01087845006259158",
        ),
        (Some(".754"), "-2905671.1", "-2905670.34600000000000364"),
        (Some("-0x10043.d46p-11"), "0x10043.d46p-11", "0"),
        (
            Some("-.7839"),
            "719239947.2472",
            "719239946.46330000000307336",
        ),
        (None, "7480439421323915584", "7480439421323915584"),
        (None, "-1660957754776489498", "-1660957754776489498"),
        (
            Some("263.23913e24"),
            "-322.18677e4",
            "263239129999999999997378560",
        ),
        (
            Some("-8895826"),
            "2706.1658434090896",
            "-8893119.83415659091042471",
        ),
        (
            Some("5636242.94117892"),
            "311.93956e19",
            "3119395600000005636352",
        ),
        (
            Some("-229.70066e-11"),
            "-3904982868664580877",
            "-3904982868664580877",
        ),
        (Some("-453910561129.8747"), "453910561129.8747", "0"),
        (
            Some("-7508438752431053095"),
            "3308.286156897464",
            "-7508438752431049786.5",
        ),
        (
            Some("506.2110"),
            "-5300935489113431696",
            "-5300935489113431190",
        ),
        (
            Some("700.74386e1"),
            "7604790134869435564",
            "7604790134869442571.5",
        ),
        (Some("5.5449e+18"), "-7032.0357", "5544899999999992968"),
        (
            Some("2600.661038822289"),
            "-966.77472e12",
            "-966774719997399.3389892578125",
        ),
        (None, "7.154424971830995e+17", "715442497183099500"),
        (
            Some("450.27094258722536"),
            "-3640443.693",
            "-3639993.42205741277462039",
        ),
        (
            Some("0x6cd0b.9c0p-37"),
            "771.34406e7",
            "7713440600.00000324286520481",
        ),
        (None, "-9.94902002657415080977066e-10", "-0.000000000994902"),
        (
            Some("-4801.297705030292"),
            "314.407429",
            "-4486.89027603029200009",
        ),
        (
            Some("5923769.5246713062"),
            "-9094.035697",
            "5914675.48897430620036175",
        ),
        (Some("-1716871162704881351"), "1716871162704881351", "0"),
        (Some("-78.82574e-24"), "926.50370e-1", "92.65037"),
        (
            Some("1.153330e-01"),
            "-5966.869937868318",
            "-5966.75460486831799978",
        ),
        (None, "622.65851e-22", "0"),
        (
            Some("9597179633.92"),
            "4710.117003488036",
            "9597184344.03700348827987909",
        ),
        (Some("8912153017419827243"), "13", "8912153017419827256"),
        (None, "640.1062409559581", "640.10624095595810001"),
        (Some("694.3625"), "-694.3625", "0"),
        (Some("-969.94096e11"), "969.94096e11", "0"),
        (
            Some("9.306962142e-05"),
            "-924.1703492977995",
            "-924.17025622817807995",
        ),
        (Some(".2779"), "-7.14862892037e-09", "0.27789999285137108"),
        (None, "-9208.268248440445", "-9208.26824844044500029"),
        (
            Some("3294.5490135796044"),
            "119.41289e4",
            "1197423.44901357960441146",
        ),
        (Some("-7610.975490575542"), "7610.975490575542", "0"),
        (Some("231.19461e25"), "-231.19461e25", "0"),
        (
            Some("-657.32105e-20"),
            "7.22354130439538e+15",
            "7223541304395380",
        ),
        (
            Some("-4104.9255601428895"),
            "500868.41880",
            "496763.49323985711049545",
        ),
        (
            Some("94289540.3371343123"),
            "3.23468453697201257455163e+04",
            "94321887.18250403242564062",
        ),
        (
            Some("1740486059742555258"),
            "-2617186121321454389",
            "-876700061578899131",
        ),
        (
            Some("8.32432296324e+03"),
            "-6.53999189784100e+13",
            "-65399918970085.67703628540039062",
        ),
        (Some("0x8a5d5.8a8p3"), "-8", "4533924.328125"),
        (
            Some("-3295220002615.25"),
            "803.62262e20",
            "80362261996704780001280",
        ),
        (
            Some("494.27016e5"),
            "591904350532562.92",
            "591904399959578.91998291015625",
        ),
        (
            Some("-207.9132333981088"),
            "-8964332571034197594",
            "-8964332571034197802",
        ),
        (Some("8.505e-14"), "-8.505e-14", "0"),
        (
            Some("-866.70771e-4"),
            "7.50784068433119318797e+03",
            "7507.75401356019318788",
        ),
        (Some(".4"), "-9863.790987502585", "-9863.39098750258499937"),
        (Some("912.19838e-14"), "0x2187a.f2fp18", "36002581440"),
        (Some("-57822.118050"), "11", "-57811.11805000000000021"),
        (
            Some("6.809860691323517130513e+03"),
            "-6.809860691323517130513e+03",
            "0",
        ),
        (Some("980.58396e-16"), "314.6310e10", "3146310000000"),
        (
            Some("92.41886441371935"),
            "-2098.4518580974254",
            "-2006.03299368370605005",
        ),
        (
            Some("5630133282952591305"),
            "3.98339",
            "5630133282952591309",
        ),
        (
            Some("661871"),
            "-9979.131834387674",
            "651891.86816561232598133",
        ),
        (None, "-6926.879431919215", "-6926.87943191921499997"),
        (Some("2877249"), "71025119", "73902368"),
        (
            Some(".45644001216899171"),
            "7732.194511670808",
            "7732.65095168297699191",
        ),
        (
            Some("4519.4379680"),
            "5582.303402948861",
            "10101.7413709488610003",
        ),
        (Some("-45.715"), "0xfee05.aaep-14", "18.00409591555595398"),
        (None, "-6.2870833150194992453e-18", "-0.00000000000000001"),
        (None, "585.074668958522", "585.07466895852200001"),
        (
            Some("369.62150e-2"),
            "-357513372098888052",
            "-357513372098888048.3125",
        ),
        (Some("2.22"), "9.89846", "12.11846"),
        (Some(".47956066079356"), "460.21362e-1", "46.50092266079356"),
        (
            Some("-885826706021767.517"),
            "0879",
            "-885826706020888.51702880859375",
        ),
        (
            Some("252.32650e-17"),
            "-8842058.733480",
            "-8842058.73347999999987223",
        ),
        (
            Some("4.1679544568302246093750000e+10"),
            "6483.446873897246",
            "41679551051.74911998957395554",
        ),
        (
            Some("3725.568581"),
            "347.61519e12",
            "347615190003725.568572998046875",
        ),
        (None, "95.41", "95.41"),
        (Some("-.4"), "-4347.846421325108", "-4348.24642132510799986"),
        (
            Some("-6142.128405792087"),
            "93.97995453",
            "-6048.14845126208699977",
        ),
        (
            Some("056601.86"),
            "914688764254555580",
            "914688764254612181.875",
        ),
        (None, "0xfc39f.1ep7", "132239247"),
        (Some("377.27868e-21"), "938.75324e-7", "0.000093875324"),
        (Some("-648198302.5"), "648198302.5", "0"),
        (
            Some("1851931046794011898"),
            "-16108646",
            "1851931046777903252",
        ),
        (
            Some("5678670432681069321"),
            "700.74365e9",
            "5678671133424719321",
        ),
        (
            Some("072268572894"),
            "5.16153",
            "72268572899.16153000295162201",
        ),
        (
            Some("0x26620.4b4p-29"),
            "-902247425.90557173",
            "-902247425.9052788918488659",
        ),
        (
            Some("-9173714929539804063"),
            "-5.7",
            "-9173714929539804068.5",
        ),
        (Some("-0x648e4.72p17"), "0x648e4.72p17", "0"),
        (Some("392"), "0282", "674"),
        (Some("-332.98765e16"), "961773402", "-3329876499038226598"),
        (None, "-952342573.3", "-952342573.29999999998835847"),
        (
            Some("3549326424832571341"),
            "30667.7",
            "3549326424832602008.75",
        ),
        (None, "-809.88567e-24", "0"),
        (
            Some("-52915.9684512812"),
            "-8238.214946360029",
            "-61154.18339764122899993",
        ),
        (Some("4.1673287771717e-09"), "-4.1673287771717e-09", "0"),
        (
            Some("-7637.073656494"),
            "-928.97719e9",
            "-928977197637.07365649938583374",
        ),
        (
            Some("0xcecb.ac7p-38"),
            "03.1957126850727",
            "3.19571287766611055",
        ),
        (
            Some("3.93285472194162870718e-16"),
            "-0545909057.4",
            "-545909057.40000000002328306",
        ),
        (
            Some("963307"),
            "-9091370106557383974",
            "-9091370106556420667",
        ),
        (
            Some("287.56271e12"),
            "-5.66419205",
            "287562709999994.3358154296875",
        ),
        (None, "147933051.271", "147933051.27099999999336433"),
        (
            Some(".57608910311"),
            "-650.48184e4",
            "-6504817.82391089689008368",
        ),
        (Some("-43.651"), "43.651", "0"),
        (
            Some("47.3310e-12"),
            "-1275.9839580251592",
            "-1275.98395802511186892",
        ),
        (
            Some("514825.10833676"),
            "255431167.209236",
            "255945992.31757275998825207",
        ),
        (Some("-5166.238804530168"), "5166.238804530168", "0"),
        (
            Some("3694013804404575169"),
            "9.22985e+06",
            "3694013804413805019",
        ),
        (Some("2.52524e-14"), "-42.56959711", "-42.56959710999997475"),
        (Some("-.65286682"), ".65286682", "0"),
        (Some("-7.39577360e+17"), "-6.872e+16", "-808297360000000000"),
        (Some("8300941495323589893"), "3.6", "8300941495323589896.5"),
        (
            Some("-0x7f68.45fp9"),
            "-0xcfc1f.f8cp-33",
            "-16699531.87509906664126902",
        ),
        (
            Some("303.69872e-9"),
            "113.31561e18",
            "113315610000000000000",
        ),
        (Some("9822.029"), ".63662", "9822.66561999999999966"),
        (
            Some("242656637212.4"),
            "-492.80355e7",
            "237728601712.40000000596046448",
        ),
        (None, "-4034186110239742299", "-4034186110239742299"),
        (
            Some("1.454467311661811712000000e+18"),
            "3.41171631947669921875e+13",
            "1454501428825006479",
        ),
        (
            Some("0x5c1cb.675p2"),
            "-1382.2352221255678",
            "1507783.37903568693218403",
        ),
        (Some("-233.2830e-23"), "2.40459e+12", "2404590000000"),
        (
            Some("-509306.19"),
            "-2387687627713535533",
            "-2387687627714044839.25",
        ),
        (
            Some("86"),
            "-038803251935.374",
            "-38803251849.37400000169873238",
        ),
        (None, "4.658372194376809", "4.658372194376809"),
        (
            Some("962.5925945272822"),
            "66838456768540740",
            "66838456768541702.59375",
        ),
        (
            Some("-0xfc531.9d5p9"),
            "39166316783680740.4",
            "39166316254517673.7734375",
        ),
        (
            Some("0xdbe26.537p-15"),
            "9.88244298e+18",
            "9882442980000000027",
        ),
        (Some("-0x24e63.cf8p-7"), "0x24e63.cf8p-7", "0"),
        (
            Some("-2.26418374170807e+08"),
            "-190.90940e-13",
            "-226418374.17080700001679361",
        ),
        (
            Some("-0x118ef.490p6"),
            "-8084.3159196448505",
            "-4610918.56591964485050994",
        ),
        (
            Some("5.5414272928046313476562500e+11"),
            "491.91756e8",
            "603334485280.463134765625",
        ),
        (
            Some("5484141300674024"),
            "960.33484e25",
            "9603348400005484141453770752",
        ),
        (
            Some("3129630468845254376"),
            "-892.5225e-9",
            "3129630468845254376",
        ),
        (
            Some("-7079159911519201978"),
            "-8.575e+13",
            "-7079245661519201978",
        ),
        (Some("-242.93291e16"), "242.93291e16", "0"),
        (
            Some("9547.740546100798"),
            "-7144362627924037",
            "-7144362627914489.25927734375",
        ),
        (Some(".03656227"), "319", "319.03656227000000001"),
        (
            Some("4148.37154270070773"),
            "5753.3335417819035",
            "9901.70508448261123036",
        ),
        (Some("0x533da.da6p5"), "-0x533da.da6p5", "0"),
        (None, "-687.52388e-3", "-0.68752388"),
        (None, "-120978541177084992", "-120978541177084992"),
        (
            Some("5.291613098e-07"),
            "35.83625e-23",
            "0.0000005291613098",
        ),
        (
            Some("-1356.1930493540367"),
            "409.25179025103535",
            "-946.94125910300134996",
        ),
        (
            Some("43056892622.3"),
            "4477.930404468218",
            "43056897100.23040447011590004",
        ),
        (
            Some("-5270926.87407"),
            "309274.956821718",
            "-4961651.9172482819999459",
        ),
        (Some("2745697342664513992"), "-2745697342664513992", "0"),
        (None, "0xa4262.98p-31", "0.0003130895056529"),
        (
            Some("-1844691142.84622"),
            "8850340171922983386",
            "8850340170078292243",
        ),
        (
            Some("-4841992256043800872"),
            "206.86933e3",
            "-4841992256043594002.5",
        ),
        (
            Some("-38178.7623124947302"),
            "-2596473556498320545",
            "-2596473556498358723.75",
        ),
        (
            Some("8.98157166591742219992e-11"),
            "3.594005221512695600e+16",
            "35940052215126956",
        ),
        (Some("0xdeb49.1f6p-35"), "755.9850e13", "7559850000000000"),
        (Some("921.82835e-14"), ".2835", "0.28350000000921828"),
        (Some("-6053.847692324145"), "6053.847692324145", "0"),
        (Some("-727890884"), "43", "-727890841"),
        (
            Some("-072556790615"),
            "7558.067974339159",
            "-72556783056.93202566355466843",
        ),
        (
            Some("819607902063113.1"),
            "0x34798.955p-17",
            "819607902063114.73980712890625",
        ),
        (
            Some("-0x33f89.c67p-7"),
            "5043.861056707285",
            "3380.78468837537582026",
        ),
        (
            Some("93590534219888246"),
            "817.83631e5",
            "93590534301671877",
        ),
        (Some("9.6e+13"), "741.63783e-13", "96000000000000"),
        (
            Some("-6.2552362032602612e-04"),
            "13.12108573",
            "13.12046020637967397",
        ),
        (Some("0.00"), ".36760", "0.3676"),
        (
            Some("-8559540755566407151"),
            "572.99772e3",
            "-8559540755565834153.5",
        ),
        (
            Some("-20"),
            "193207295809.2",
            "193207295789.20000000298023224",
        ),
        (Some(".36"), "9974346099.198", "9974346099.5580000001937151"),
        (Some("-0"), "0", "0"),
        (
            Some("-46785274399.9637"),
            "9.917528377217e+12",
            "9870743102817.03629970550537109",
        ),
        (
            Some("-.862428255"),
            "0xe7af1.349p-39",
            "-0.86242652882051931",
        ),
        (Some("2.730728316969"), "729.49151e-10", "2.730728389918151"),
        (Some("-8e+01"), "0x40e21.660p15", "8708469424"),
        (None, "0x277c.356p-27", "0.00007531202209066"),
        (
            Some("-0x8d89a.f0dp14"),
            "-3816101861266429320",
            "-3816101870764872124",
        ),
        (
            Some("-1323.1522880274588"),
            "5.34081628916383974008318e-16",
            "-1323.15228802745879944",
        ),
        (
            Some("-7685.102046162669"),
            "-7.4458229460",
            "-7692.54786910866899996",
        ),
        (
            Some("0xa7040.a62p3"),
            "5364546691197520147",
            "5364546691202992920",
        ),
        (
            Some("-8641.151604830427"),
            "6.08159491438157723462e-07",
            "-8641.15160422226750825",
        ),
        (Some("8390327.72"), "-8390327.72", "0"),
        (
            Some("-307.57839e-6"),
            "-0720452.362",
            "-720452.36230757839001626",
        ),
        (None, "2101321676989876385", "2101321676989876385"),
        (Some("0x3f0d2.53bp-10"), "-0x3f0d2.53bp-10", "0"),
        (
            Some("-8606125714625832299"),
            "0x21f83.7c4p-6",
            "-8606125714625830125",
        ),
        (
            Some("525.2135e24"),
            "-340.58844e-6",
            "525213500000000000009437184",
        ),
        (Some("-7.8354882821e-06"), "7.8354882821e-06", "0"),
        (
            Some("7357.918774651851"),
            "3607.933933366907",
            "10965.8527080187579994",
        ),
        (
            Some("09501.620146"),
            "3164800172274928589",
            "3164800172274938090.5",
        ),
        (Some("-366.1344e-12"), "94", "93.9999999996338656"),
    ];

    #[test]
    fn matches_redis_on_chosen_cases() {
        for &(value, by, want) in REDIS_CASES.iter().chain(REDIS_RANDOM) {
            assert_eq!(incr(value, by), want, "{value:?} + {by:?}");
        }
    }

    #[test]
    fn matches_redis_on_the_largest_value() {
        // Redis: INCRBYFLOAT k 1.18973149535723176502e4932
        let got = incr(None, "1.18973149535723176502e4932");
        assert_eq!(got.len(), 4933);
        assert!(got.starts_with("1189731495357231765021263853030970205169"));
        assert!(got.ends_with("19552086811989770240"));
    }

    #[test]
    fn matches_redis_on_sequences() {
        // Each step reparses the stored text, as Redis does.
        let sequences: &[(&[&str], &[&str])] = &[
            (
                &["18.045"; 12],
                &[
                    "18.045",
                    "36.09",
                    "54.135",
                    "72.18",
                    "90.225",
                    "108.27",
                    "126.315",
                    "144.36",
                    "162.405",
                    "180.45",
                    "198.495",
                    "216.53999999999999999",
                ],
            ),
            (
                &["0.1"; 12],
                &[
                    "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1", "1.1",
                    "1.2",
                ],
            ),
            (
                &["-18.045", "0.1", "-0.2", "1e-15", "3.3", "-3.3"],
                &[
                    "-18.045",
                    "-17.945",
                    "-18.145",
                    "-18.144999999999999",
                    "-14.844999999999999",
                    "-18.144999999999999",
                ],
            ),
            (
                &["34359738371", "0.01", "0.01", "-34359738371"],
                &[
                    "34359738371",
                    "34359738371.01000000163912773",
                    "34359738371.02000000327825546",
                    "0.02000000327825546",
                ],
            ),
        ];
        for (steps, want) in sequences {
            let mut stored: Option<String> = None;
            for (by, want) in steps.iter().zip(want.iter()) {
                let got = incr(stored.as_deref(), by);
                assert_eq!(&got, want, "{stored:?} + {by:?}");
                stored = Some(got);
            }
        }
    }
}
