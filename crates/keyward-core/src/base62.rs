//! The base62 alphabet keys are written in, and the fixed-width encoding of the checksum.

/// Digits, then upper case, then lower case: the order fixes the checksum encoding.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `byte` is one of the 62 characters a key body may hold.
pub fn is_base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn digit_value(byte: u8) -> Option<u32> {
    match byte {
        b'0'..=b'9' => Some(u32::from(byte - b'0')),
        b'A'..=b'Z' => Some(u32::from(byte - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(byte - b'a') + 36),
        _ => None,
    }
}

/// Writes `value` as exactly six base62 digits, most significant first.
/// Six digits hold 62^6 ≈ 5.7e10 values, more than any u32.
pub fn encode_u32_fixed6(mut value: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Reads six base62 digits back; `None` if any is not base62 or the value overflows a u32.
pub fn decode_u32_fixed6(digits: &[u8]) -> Option<u32> {
    if digits.len() != 6 {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        value = value * 62 + u64::from(digit_value(d)?);
    }
    u32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed6_round_trips_the_extremes() {
        for v in [0, 1, 61, 62, u32::MAX / 2, u32::MAX] {
            assert_eq!(decode_u32_fixed6(&encode_u32_fixed6(v)), Some(v));
        }
    }

    #[test]
    fn fixed6_rejects_overflow_and_foreign_characters() {
        assert_eq!(decode_u32_fixed6(b"zzzzzz"), None);
        assert_eq!(decode_u32_fixed6(b"00000_"), None);
        assert_eq!(decode_u32_fixed6(b"00000"), None);
    }
}
