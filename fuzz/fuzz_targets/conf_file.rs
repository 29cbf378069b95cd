//! The configuration dialect (`runtime/src/config/conf_file.rs`) and the readers built on
//! it. The input is up to three files separated by NUL bytes: `main.conf`, which may
//! `#include` / `#tryinclude` `a.conf` and `b.conf` (and they each other, or themselves).
//! The bytes need not be UTF-8. The parsed file is then read as every configuration file
//! wari reads, so the readers see whatever sections and values the parser produced.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wari::config::acl_conf::NamedAcls;
use wari::config::conf_file::{self, MemorySource};
use wari::config::http_conf::HttpConfig;
use wari::config::wasm_conf::WasmConfig;
use wari::config::{Problems, test_phones_conf};
use wari::core::dialplan::Dialplan;
use wari_fuzz::parts;

fuzz_target!(|data: &[u8]| {
    let files = parts(data, 3);
    let dir = Path::new("/fuzz");
    let mut source = MemorySource::new();
    for (name, bytes) in ["main.conf", "a.conf", "b.conf"].iter().zip(&files) {
        source.insert_bytes(dir.join(name), bytes.to_vec());
    }
    let mut problems = Problems::default();
    let Ok(Some(file)) = conf_file::load(&source, dir, "main.conf", &mut problems) else {
        return;
    };
    for section in file.sections() {
        let _ = file.section(&section.name);
        let _ = section.get("type");
    }
    let _ = file.duplicate_sections();
    let named = NamedAcls::read(Some(&file), &mut problems);
    let _ = HttpConfig::read(Some(&file), dir, &named, &mut problems);
    let _ = WasmConfig::read(Some(&file), dir, &mut problems);
    let _ = test_phones_conf::read(Some(&file), &mut problems);
    let _ = Dialplan::from_conf(&file, &mut problems);
    for problem in problems.iter() {
        let _ = problem.to_string();
    }
});
