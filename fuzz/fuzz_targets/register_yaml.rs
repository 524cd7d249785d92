//! The register import must refuse any input with an error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(register) = kluis_domain::register_file::parse("fuzz.yaml", text) {
            // What is accepted must write back out and read back the same.
            let yaml = kluis_domain::register_file::to_yaml(&register).expect("export");
            let again = kluis_domain::register_file::parse("again.yaml", &yaml).expect("re-import");
            assert_eq!(again, register);
        }
    }
});
