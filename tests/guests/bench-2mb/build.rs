//! Generates the bulk of the component: FUNCTIONS distinct small hash functions (reached
//! through one `match`, so none can be dropped) and a TABLE_BYTES pseudo-random table.
//! Deterministic, so the component's bytes are the same on every build.

use std::fmt::Write as _;

const FUNCTIONS: u32 = 4_500;
const TABLE_BYTES: usize = 512 * 1024;

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut code = String::new();
    for i in 0..FUNCTIONS {
        let _ = write!(
            code,
            "#[inline(never)]\nfn f{i}(x: u64) -> u64 {{\n    let mut h = x ^ {:#x};\n",
            next()
        );
        for _ in 0..6 {
            let _ = writeln!(
                code,
                "    h = h.wrapping_mul({:#x}).rotate_left({}) ^ (h >> {});\n    if h & {} == 0 {{ h = h.wrapping_add({:#x}); }}",
                next() | 1,
                next() % 63 + 1,
                next() % 31 + 1,
                1u64 << (next() % 16),
                next(),
            );
        }
        code.push_str("    h\n}\n");
    }
    code.push_str("/// Runs generated function `i % FUNCTIONS` on `x`.\npub fn dispatch(i: u32, x: u64) -> u64 {\n    match i % ");
    let _ = writeln!(code, "{FUNCTIONS} {{");
    for i in 0..FUNCTIONS {
        let _ = writeln!(code, "        {i} => f{i}(x),");
    }
    code.push_str("        _ => x,\n    }\n}\n");
    std::fs::write(out.join("generated.rs"), code).expect("write generated.rs");
    let table: Vec<u8> = (0..TABLE_BYTES).map(|_| next() as u8).collect();
    std::fs::write(out.join("table.bin"), table).expect("write table.bin");
    println!("cargo::rerun-if-changed=build.rs");
}
