//! Decoding image files to 8-bit pixels. Every PNG/JPEG/BMP flavour (8/16-bit, gray, RGB,
//! RGBA, palette) lands on the same values: 16-bit samples are rounded to 8 bits, alpha is
//! dropped (not composited, as `PIL.Image.convert("RGB")` does), and gray stays one channel
//! until the network input replicates it.

use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

use image::{DynamicImage, ImageError, ImageFormat, ImageReader};

use crate::Error;

/// Interleaved 8-bit pixels with one (gray) or three (RGB) channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub data: Vec<u8>,
}

impl Pixels {
    pub fn new(width: u32, height: u32, channels: usize, data: Vec<u8>) -> Self {
        assert!(channels == 1 || channels == 3, "pixels have 1 or 3 channels, not {channels}");
        assert_eq!(data.len(), width as usize * height as usize * channels, "pixel buffer size");
        Self { width, height, channels, data }
    }

    /// The pixel as RGB, replicating gray.
    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * self.channels;
        match self.channels {
            1 => [self.data[i]; 3],
            _ => [self.data[i], self.data[i + 1], self.data[i + 2]],
        }
    }
}

/// Images with more pixels than this (8192 × 8192, 67 megapixels) are refused from their
/// header, before any pixel is decoded: the network sees about 224 × 224 pixels, and decoding
/// several such images in parallel would take gigabytes. The image crate's own 512 MiB
/// allocation limit per image still applies below it (it matters for 16-bit RGBA).
pub const MAX_PIXELS: u64 = 8192 * 8192;

/// Reads and decodes `path`; the format is taken from the content, not the extension.
pub fn decode_file(path: &Path) -> Result<Pixels, Error> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        return Err(image_error(path, "the file is empty (0 bytes); replace or remove it".into()));
    }
    decode_with(path, || {
        ImageReader::open(path)
            .map_err(|e| image_error(path, format!("cannot open it: {e}")))?
            .with_guessed_format()
            .map_err(|e| image_error(path, format!("cannot read it: {e}")))
    })
}

/// Decodes the content of a file already in memory; `path` names it in errors.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Pixels, Error> {
    if bytes.is_empty() {
        return Err(image_error(path, "the file is empty (0 bytes); replace or remove it".into()));
    }
    decode_with(path, || {
        ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| image_error(path, format!("cannot read it: {e}")))
    })
}

fn image_error(path: &Path, reason: String) -> Error {
    Error::Image { path: path.to_path_buf(), reason }
}

/// Checks the format and the size from the header, then opens again to decode.
fn decode_with<R: BufRead + Seek>(path: &Path, open: impl Fn() -> Result<ImageReader<R>, Error>) -> Result<Pixels, Error> {
    let fail = |reason: String| image_error(path, reason);
    let reader = open()?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Bmp) => {}
        Some(other) => return Err(fail(format!("a {other:?} image; only PNG, JPEG and BMP are read: convert it to PNG"))),
        None => return Err(fail("not a PNG, JPEG or BMP image (unrecognised content); remove it or convert it".into())),
    }
    let (width, height) = reader.into_dimensions().map_err(|e| fail(undecodable(&e)))?;
    let pixels = width as u64 * height as u64;
    if pixels > MAX_PIXELS {
        return Err(fail(format!(
            "{width}x{height} is {:.0} megapixels, over the limit of {:.0} (8192x8192) that are decoded; downscale it \
             first (the network sees about 224x224 pixels)",
            pixels as f64 / 1e6,
            MAX_PIXELS as f64 / 1e6
        )));
    }
    let image = open()?.decode().map_err(|e| fail(undecodable(&e)))?;
    Ok(from_dynamic(image))
}

fn undecodable(e: &ImageError) -> String {
    match e {
        ImageError::Limits(_) => format!("cannot decode it ({e}): it needs more than the 512 MiB allowed per image; save it as 8-bit or downscale it"),
        ImageError::Unsupported(_) => format!("cannot decode it ({e}); convert it to an 8-bit PNG"),
        _ => format!("cannot decode it ({e}); the file may be truncated or corrupt"),
    }
}

fn from_dynamic(image: DynamicImage) -> Pixels {
    let (width, height) = (image.width(), image.height());
    match image {
        DynamicImage::ImageLuma8(gray) => Pixels::new(width, height, 1, gray.into_raw()),
        gray @ (DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLumaA16(_)) => {
            Pixels::new(width, height, 1, gray.to_luma8().into_raw())
        }
        other => Pixels::new(width, height, 3, other.to_rgb8().into_raw()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, ImageBuffer, Luma, LumaA, Rgb, RgbImage, Rgba};

    fn value(x: u32, y: u32) -> u8 {
        ((x * 37 + y * 11) % 256) as u8
    }

    /// The same gray picture written in every storage flavour decodes to the same pixels.
    #[test]
    fn every_png_flavour_decodes_to_the_same_pixels() {
        let dir = tempfile::tempdir().unwrap();
        let (w, h) = (13, 7);
        let gray = GrayImage::from_fn(w, h, |x, y| Luma([value(x, y)]));
        let path = |name: &str| dir.path().join(name);
        gray.save(path("gray8.png")).unwrap();
        ImageBuffer::from_fn(w, h, |x, y| Luma([value(x, y) as u16 * 257])).save(path("gray16.png")).unwrap();
        ImageBuffer::from_fn(w, h, |x, y| LumaA([value(x, y), 100])).save(path("graya.png")).unwrap();
        RgbImage::from_fn(w, h, |x, y| Rgb([value(x, y); 3])).save(path("rgb.png")).unwrap();
        ImageBuffer::from_fn(w, h, |x, y| Rgba([value(x, y), value(x, y), value(x, y), 7])).save(path("rgba.png")).unwrap();
        ImageBuffer::from_fn(w, h, |x, y| Rgb([value(x, y) as u16 * 257; 3])).save(path("rgb16.png")).unwrap();
        write_palette_png(&path("palette.png"), &gray);
        gray.save(path("gray.bmp")).unwrap();

        let expected: Vec<[u8; 3]> = (0..h).flat_map(|y| (0..w).map(move |x| [value(x, y); 3])).collect();
        for name in ["gray8.png", "gray16.png", "graya.png", "rgb.png", "rgba.png", "rgb16.png", "palette.png", "gray.bmp"] {
            let px = decode_file(&path(name)).unwrap();
            let got: Vec<[u8; 3]> = (0..h).flat_map(|y| (0..w).map(move |x| (x, y))).map(|(x, y)| px.rgb(x, y)).collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    /// An indexed-colour PNG whose palette is the 256 grays.
    fn write_palette_png(path: &Path, gray: &GrayImage) {
        let file = std::fs::File::create(path).unwrap();
        let mut encoder = png::Encoder::new(file, gray.width(), gray.height());
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette((0..=255u8).flat_map(|v| [v, v, v]).collect::<Vec<u8>>());
        encoder.write_header().unwrap().write_image_data(gray.as_raw()).unwrap();
    }

    /// A header announcing 20 000 × 20 000 pixels with no pixel data: refused from the header
    /// with the size and the fix; decoding it would have said "truncated" instead, as it does
    /// at 8192 × 8192, the largest size let through.
    #[test]
    fn huge_images_are_refused_from_their_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.png");
        write_png_header(&path, 20_000, 20_000);
        let err = decode_file(&path).unwrap_err().to_string();
        assert!(err.contains("huge.png") && err.contains("20000x20000 is 400 megapixels") && err.contains("downscale"), "{err}");
        let err = decode_bytes(&std::fs::read(&path).unwrap(), &path).unwrap_err().to_string();
        assert!(err.contains("20000x20000"), "{err}");
        write_png_header(&path, 8192, 8192);
        assert!(decode_file(&path).unwrap_err().to_string().contains("truncated or corrupt"));
    }

    /// An RGB PNG of `width` × `height` whose pixel data is one empty zlib block: a valid header
    /// (the decoder reads as far as the first IDAT chunk for it), no pixels.
    fn write_png_header(path: &Path, width: u32, height: u32) {
        let mut encoder = png::Encoder::new(std::fs::File::create(path).unwrap(), width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.write_header().unwrap().write_chunk(png::chunk::IDAT, &[0x78, 0x01, 0x03, 0x00]).unwrap();
    }

    /// Image formats this build cannot decode are named, with the ones it can.
    #[test]
    fn other_image_formats_are_named_with_the_supported_ones() {
        let dir = tempfile::tempdir().unwrap();
        let cases: [(&str, &[u8], &str); 3] = [
            ("scan.tif", b"II*\0\x08\0\0\0rest", "a Tiff image"),
            ("photo.webp", b"RIFF\x10\0\0\0WEBPVP8 rest", "a WebP image"),
            ("anim.gif", b"GIF89a\x01\0\x01\0rest", "a Gif image"),
        ];
        for (name, bytes, expected) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = decode_file(&path).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(expected) && err.contains("only PNG, JPEG and BMP"), "{err}");
        }
    }

    #[test]
    fn bytes_decode_like_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        GrayImage::from_fn(5, 3, |x, y| Luma([value(x, y)])).save(&path).unwrap();
        assert_eq!(decode_bytes(&std::fs::read(&path).unwrap(), &path).unwrap(), decode_file(&path).unwrap());
        assert!(decode_bytes(b"", &path).unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn undecodable_files_name_the_path_and_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("empty.png", &b""[..], "empty (0 bytes)"),
            ("notes.txt", &b"hello, world"[..], "not a PNG, JPEG or BMP"),
            ("text.png", &b"hello, world"[..], "truncated or corrupt"),
            ("truncated.png", &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], "truncated or corrupt"),
        ];
        for (name, bytes, expected) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = decode_file(&path).unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(expected), "{err}");
        }
        let err = decode_file(&dir.path().join("missing.png")).unwrap_err().to_string();
        assert!(err.contains("missing.png") && err.contains("cannot open"), "{err}");
    }
}
