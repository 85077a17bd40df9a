//! Event names and the draw that picks one: `NAMES[floor(u01^2.5 · 40)]` in workload.md.

/// The 40 event names, in the order the reference generator indexes them.
pub const NAMES: [&str; 40] = [
    "login",
    "page_viewed",
    "clicked_button",
    "created_project",
    "purchased",
    "invited_friend",
    "signup",
    "opened",
    "scrolled_bottom",
    "churned",
    "n10",
    "n11",
    "n12",
    "n13",
    "n14",
    "n15",
    "n16",
    "n17",
    "n18",
    "n19",
    "n20",
    "n21",
    "n22",
    "n23",
    "n24",
    "n25",
    "n26",
    "n27",
    "n28",
    "n29",
    "n30",
    "n31",
    "n32",
    "n33",
    "n34",
    "n35",
    "n36",
    "n37",
    "n38",
    "n39",
];

/// `NAME_STARTS[k - 1]` is the smallest 53-bit draw `m` (`u01 = m · 2^-53`) that the reference
/// generator maps to name number `k` or a later one.
///
/// The reference computes `floor(u01 ** 2.5 * 40)` with numpy, and numpy 2.4's `power` on x86-64
/// with AVX-512 is not glibc's `pow`: the two differ in the last bit for about one input in
/// twenty. A last-bit difference changes the name only for a draw right next to one of these 39
/// boundaries, but there it does: for k = 32 and k = 39 glibc's `pow`, and with it Rust's `powf`
/// on Linux, puts the boundary one draw lower than numpy. Comparing the integer draw with the
/// boundaries numpy produces gives numpy's name for every one of the 2^53 inputs, on any
/// platform, without depending on a libm at all. `tests/fixtures/name_starts.py` recomputes the
/// table and checks that numpy's name steps exactly once near each boundary.
const NAME_STARTS: [u64; 39] = [
    2_059_518_861_454_553,
    2_717_551_430_075_267,
    3_196_055_229_543_448,
    3_585_830_609_916_506,
    3_920_611_192_467_600,
    4_217_220_158_649_658,
    4_485_439_359_705_330,
    4_731_531_856_476_422,
    4_959_784_161_956_038,
    5_173_277_483_525_749,
    5_374_311_658_296_753,
    5_564_655_360_809_144,
    5_745_702_224_416_963,
    5_918_572_718_423_288,
    6_084_183_126_073_866,
    6_243_293_714_694_597,
    6_396_543_272_266_581,
    6_544_474_437_427_102,
    6_687_552_647_987_633,
    6_826_180_564_135_517,
    6_960_709_217_424_461,
    7_091_446_748_081_557,
    7_218_665_337_339_297,
    7_342_606_769_312_459,
    7_463_486_938_714_504,
    7_581_499_538_063_598,
    7_696_819_099_306_980,
    7_809_603_522_444_162,
    7_919_996_192_770_561,
    8_028_127_765_445_423,
    8_134_117_678_925_795,
    8_238_075_445_818_210,
    8_340_101_759_769_533,
    8_440_289_449_356_889,
    8_538_724_303_974_279,
    8_635_485_792_036_048,
    8_730_647_688_120_041,
    8_824_278_622_729_899,
    8_916_442_565_997_101,
];

/// The index into `NAMES` of the event whose name draw has top 53 bits `m`.
pub fn name_index(m: u64) -> u8 {
    let index = NAME_STARTS.partition_point(|&start| start <= m);
    // At most 39 boundaries lie at or below `m`, so the index always fits.
    index as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::splitmix::top53_to_u01;

    /// The formula of workload.md evaluated with this platform's `powf`.
    fn by_formula(m: u64) -> u64 {
        (top53_to_u01(m).powf(2.5) * 40.0).floor() as u64
    }

    #[test]
    fn the_boundaries_rise_and_bracket_every_name() {
        assert!(NAME_STARTS.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(name_index(0), 0);
        assert_eq!(name_index((1 << 53) - 1), 39);
        for (offset, &start) in NAME_STARTS.iter().enumerate() {
            let k = offset as u8 + 1;
            assert_eq!(name_index(start - 1), k - 1);
            assert_eq!(name_index(start), k);
        }
    }

    #[test]
    fn the_boundaries_agree_with_the_formula_to_within_one_draw() {
        // A libm may round `powf` differently from numpy in the last bit, which moves a boundary
        // by at most one draw; anything further off would mean a wrong entry in the table.
        for (offset, &start) in NAME_STARTS.iter().enumerate() {
            let k = offset as u64 + 1;
            assert_eq!(by_formula(start - 2), k - 1, "below boundary {k}");
            assert_eq!(by_formula(start + 1), k, "above boundary {k}");
        }
    }
}
