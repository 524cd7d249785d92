//! A dataset map must be refused with an error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(map) = kluis_domain::dataset_map::parse("fuzz.yaml", text) {
            // What is accepted must write back out and read back the same.
            let yaml = kluis_domain::dataset_map::to_yaml(&map).expect("export");
            let again = kluis_domain::dataset_map::parse("again.yaml", &yaml).expect("re-import");
            assert_eq!(again, map);
            // Ordering the tables must terminate and place every table once.
            assert_eq!(map.parents_first().len(), map.tables.len());
        }
    }
});
