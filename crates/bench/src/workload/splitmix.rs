//! The counter-based splitmix64 streams of workload.md. Output `i` of a stream is a pure function
//! of the seed and `i`, so any single row can be computed without generating the rows before it.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// `2^-53`: scaling the top 53 bits of a draw by it gives a float in `[0, 1)` with no rounding.
const TWO_POW_MINUS_53: f64 = 1.0 / 9_007_199_254_740_992.0;

/// Output number `index` (0-based) of the stream seeded with `seed`, with the wrapping u64
/// arithmetic of the reference generator.
pub fn draw(seed: u64, index: u64) -> u64 {
    let mut z = seed.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of output `index`: the integer `m` behind `u01 = m · 2^-53`. Some draws are
/// decided on `m` directly, because integers compare without any floating-point rounding.
pub fn top53(seed: u64, index: u64) -> u64 {
    draw(seed, index) >> 11
}

/// `u01(index) = (draw(index) >> 11) · 2^-53`, exactly as the reference computes it: both the
/// conversion of a 53-bit integer and the scaling by a power of two are exact in f64.
pub fn u01(seed: u64, index: u64) -> f64 {
    top53_to_u01(top53(seed, index))
}

/// The float in `[0, 1)` that a 53-bit draw stands for.
pub fn top53_to_u01(m: u64) -> f64 {
    m as f64 * TWO_POW_MINUS_53
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_matches_the_published_splitmix64_outputs() {
        // The first outputs of splitmix64 seeded with 0 (the reference implementation by
        // Sebastiano Vigna), so the constants and shifts are checked against an outside source.
        assert_eq!(draw(0, 0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(draw(0, 1), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(draw(0, 2), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn u01_stays_below_one() {
        assert!(top53_to_u01((1 << 53) - 1) < 1.0);
        assert_eq!(top53_to_u01(0), 0.0);
    }
}
