//! Any bytes as an image file: decoded pixels of a consistent size, or an error, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pixels) = mon_backbone::image::decode_bytes(data, Path::new("fuzz.png")) {
        assert_eq!(pixels.data.len(), pixels.width as usize * pixels.height as usize * pixels.channels);
    }
});
