//! Bad files at the edges of a run: image formats this build cannot read, the same picture in
//! every PNG flavour, an image far too large to decode, weights that turn features into NaN,
//! and a disk that fills while `mon features` writes. Each ends in a non-zero exit (or a
//! warning where going on is right) with a message naming the file and the fix, and no panic.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use image::{GrayImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba};
use mon_testkit::{read_safetensors, shared_fixture, weights};

/// `mon features` with `args` appended; the weights and output vary per test.
fn features(weights: &Path, backbone: &str, images: &[&Path], out: &Path, extra: &[&str]) -> Outcome {
    let mut args = vec!["features", "--backbone", backbone, "--weights", weights.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.push("--images");
    args.extend(images.iter().map(|p| p.to_str().unwrap()));
    args.extend_from_slice(extra);
    mon(&args)
}

#[test]
fn unreadable_image_formats_are_named_with_the_ones_that_work() {
    let Some(w) = weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    // Real WebP and TIFF signatures: the decoder recognises them and this build does not read them.
    let webp = dir.path().join("photo.webp");
    std::fs::write(&webp, b"RIFF\x10\0\0\0WEBPVP8 \x04\0\0\0\0\0\0\0").unwrap();
    let out = dir.path().join("f.safetensors");
    let run = features(&w, "efficientnet-lite0", &[&webp], &out, &["--taps", "head"]);
    assert!(!run.success && !out.exists());
    assert!(run.stderr.contains("photo.webp: a WebP image; only PNG, JPEG and BMP are read: convert it to PNG"), "{}", run.stderr);

    // In a dataset folder the extension decides: a .tif beside the images is a warning, and the
    // run goes on with the images it can read.
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    std::fs::write(data.join("alpha/train/good/scan.tif"), b"II*\0\x08\0\0\0").unwrap();
    let check = mon(&["data", "check", data.to_str().unwrap()]);
    assert!(check.success, "{}", check.stderr);
    assert!(check.stdout.contains("scan.tif: `.tif` files are not read (only PNG, JPEG and BMP images are); ignored: convert it to PNG"), "{}", check.stdout);
}

/// The same gray picture stored as 8-bit gray, 16-bit gray, palette, RGB and RGBA PNG gives the
/// same features end to end (decoding alone is checked in mon-backbone's `image` tests).
#[test]
fn every_png_flavour_of_a_picture_gives_the_same_features() {
    let Some(w) = weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (width, height) = (64, 48);
    let value = |x: u32, y: u32| ((x * 37 + y * 11) % 256) as u8;
    let path = |name: &str| dir.path().join(name);
    let gray = GrayImage::from_fn(width, height, |x, y| Luma([value(x, y)]));
    gray.save(path("gray8.png")).unwrap();
    ImageBuffer::from_fn(width, height, |x, y| Luma([value(x, y) as u16 * 257])).save(path("gray16.png")).unwrap();
    RgbImage::from_fn(width, height, |x, y| Rgb([value(x, y); 3])).save(path("rgb.png")).unwrap();
    ImageBuffer::from_fn(width, height, |x, y| Rgba([value(x, y), value(x, y), value(x, y), 90])).save(path("rgba.png")).unwrap();
    let mut encoder = png::Encoder::new(std::fs::File::create(path("palette.png")).unwrap(), width, height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_palette((0..=255u8).flat_map(|v| [v, v, v]).collect::<Vec<u8>>());
    encoder.write_header().unwrap().write_image_data(gray.as_raw()).unwrap();

    let names = ["gray8.png", "gray16.png", "rgb.png", "rgba.png", "palette.png"];
    let images: Vec<_> = names.iter().map(|n| path(n)).collect();
    let out = path("f.safetensors");
    let run = features(&w, "efficientnet-lite0", &images.iter().map(|p| p.as_path()).collect::<Vec<_>>(), &out, &["--taps", "head"]);
    assert!(run.success, "{}", run.stderr);
    let (shape, values) = &read_safetensors(&out)["head"];
    let rows: Vec<&[f32]> = values.chunks(shape[1]).collect();
    for (name, row) in names.iter().zip(&rows).skip(1) {
        assert_eq!(*row, rows[0], "{name} differs from gray8.png");
    }
}

/// A PNG header announcing 20 000 × 20 000 RGB pixels (1.2 GB decoded) and no pixel data: it is
/// refused from the header with the limit and the fix. Had it been decoded, the message would
/// say "truncated" instead.
#[test]
fn a_huge_image_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 4);
    let huge = data.join("alpha/test/good/huge.png");
    let mut encoder = png::Encoder::new(std::fs::File::create(&huge).unwrap(), 20_000, 20_000);
    encoder.set_color(png::ColorType::Rgb);
    // The decoder reads the header up to the first IDAT chunk: one holding an empty zlib block.
    encoder.write_header().unwrap().write_chunk(png::chunk::IDAT, &[0x78, 0x01, 0x03, 0x00]).unwrap();
    let check = mon(&["data", "check", data.to_str().unwrap()]);
    assert!(!check.success);
    assert!(
        check.stderr.contains("huge.png: 20000x20000 is 400 megapixels, over the limit of 67 (8192x8192)") && check.stderr.contains("downscale it"),
        "{}",
        check.stderr
    );
}

/// Copies a safetensors file with every value of `tensor` set to `value`.
fn with_tensor_set(src: &Path, dst: &Path, tensor: &str, value: f32) {
    let bytes = std::fs::read(src).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = if name == tensor { value.to_le_bytes().repeat(view.data().len() / 4) } else { view.data().to_vec() };
            (name, view.dtype(), view.shape().to_vec(), data)
        })
        .collect();
    assert!(owned.iter().any(|(name, ..)| name == tensor), "{} has no {tensor}", src.display());
    let views: Vec<_> = owned
        .iter()
        .map(|(name, dtype, shape, data)| (name.clone(), safetensors::tensor::TensorView::new(*dtype, shape.clone(), data).unwrap()))
        .collect();
    std::fs::write(dst, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Weights with an infinite BatchNorm scale load fine (the shapes fit) and turn the features
/// into infinities and NaN: caught after extraction, naming the weights file and the stage.
#[test]
fn weights_that_give_non_finite_features_are_named_with_the_stage() {
    let Some(sound) = shared_fixture("resnet18_random.safetensors") else { return };
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("resnet18-broken.safetensors");
    with_tensor_set(&sound, &broken, "layer1.0.bn2.weight", f32::INFINITY);
    let image = dir.path().join("a.png");
    write_image(&image, 1, false);
    let out = dir.path().join("f.safetensors");
    let run = features(&broken, "resnet18", &[&image], &out, &["--taps", "stem,layer1"]);
    assert!(!run.success && !out.exists());
    assert!(
        run.stderr.contains("resnet18-broken.safetensors: stage `layer1` of `resnet18` gave")
            && run.stderr.contains("non-finite feature value(s)")
            && run.stderr.contains("fetch it again"),
        "{}",
        run.stderr
    );
    let sound_run = features(&sound, "resnet18", &[&image], &out, &["--taps", "stem,layer1"]);
    assert!(sound_run.success, "{}", sound_run.stderr);
}

/// `mon features --force` onto a 200 KiB tmpfs (a private mount namespace through
/// `unshare -rm`, so no privileges are needed and nothing outlives the test) holding an earlier
/// features file: writing 250 KB of maps fails with "no space", the message names the output,
/// and the earlier file is byte-for-byte intact with no temporary file left beside it.
#[test]
fn a_full_disk_names_the_output_and_keeps_the_earlier_file() {
    let Some(w) = weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small-disk");
    std::fs::create_dir(&mount).unwrap();
    let image = dir.path().join("a.png");
    write_image(&image, 1, false);
    let earlier = dir.path().join("earlier.bin");
    std::fs::write(&earlier, (0..60_000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    let script = r#"
        mount -t tmpfs -o size=200k none "$MNT" || { echo NO_MOUNT; exit 0; }
        cp "$EARLIER" "$MNT/features.safetensors"
        "$MON" features --backbone efficientnet-lite0 --weights "$WEIGHTS" --images "$IMAGE" \
            --taps head --pool none --out "$MNT/features.safetensors" --force
        echo "rc=$?"
        cmp -s "$EARLIER" "$MNT/features.safetensors" && echo EARLIER_INTACT
        echo "left: $(ls -A "$MNT" | tr '\n' ' ')"
    "#;
    let Some((stdout, stderr)) = in_private_tmpfs(script, &[("MNT", &mount), ("EARLIER", &earlier), ("WEIGHTS", &w), ("IMAGE", &image)]) else { return };
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("rc=1"), "mon features did not fail on a full disk:\n{stdout}\n{stderr}");
    assert!(stderr.contains("small-disk/features.safetensors") && stderr.contains("is the disk full?") && stderr.contains("No space left"), "{stderr}");
    assert!(stdout.contains("EARLIER_INTACT"), "the earlier file was damaged:\n{stdout}");
    assert!(stdout.contains("left: features.safetensors \n") || stdout.trim_end().ends_with("left: features.safetensors"), "a temporary file was left:\n{stdout}");
}

/// Runs `script` under `unshare -rm` (a private mount namespace, so no privileges are needed and
/// no mount outlives it) from the project root, with `$MON` and `env` set; the script prints
/// `NO_MOUNT` where it cannot mount. Returns stdout and stderr, or `None` (with the reason
/// printed) where this machine cannot do it.
fn in_private_tmpfs(script: &str, env: &[(&str, &Path)]) -> Option<(String, String)> {
    let run = Command::new("unshare")
        .args(["-rm", "sh", "-c", script])
        .env("MON", env!("CARGO_BIN_EXE_mon"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .current_dir(mon_testkit::project_root())
        .output();
    let Ok(run) = run else {
        eprintln!("skipping: `unshare` is not installed; the full-disk tests mount a tiny tmpfs in a private namespace");
        return None;
    };
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout).into_owned(), String::from_utf8_lossy(&run.stderr).into_owned());
    if !run.status.success() || stdout.contains("NO_MOUNT") {
        eprintln!("skipping: no private tmpfs here (unshare -rm / mount refused: {stderr}); the full-disk tests need one");
        return None;
    }
    Some((stdout, stderr))
}

/// `mon run` on a disk that fills up: a finished run on a small tmpfs, the disk then filled to
/// its last ~100 KiB, a second run: it fails naming the file it could not write, removes its
/// partial folder, and leaves the first run byte for byte as it was.
#[test]
fn a_run_on_a_full_disk_fails_cleanly_and_keeps_the_earlier_run() {
    let Some(w) = weights("efficientnet-lite0-57934424.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small-disk");
    std::fs::create_dir(&mount).unwrap();
    let data = dir.path().join("data");
    synthetic_category(&data, "alpha", 6);
    let exp = experiment(dir.path(), &data, &w, &["alpha"]);
    let script = r#"
        mount -t tmpfs -o size=4m none "$MNT" || { echo NO_MOUNT; exit 0; }
        "$MON" run "$EXP" --results "$MNT" --quiet > /dev/null || { echo FIRST_FAILED; exit 0; }
        before=$(cd "$MNT" && find synthetic -type f | sort | xargs md5sum)
        avail=$(df --output=avail -B1 "$MNT" | tail -1)
        head -c $((avail - 100000)) /dev/zero > "$MNT/filler" 2>/dev/null || true
        "$MON" run "$EXP" --results "$MNT" --quiet
        echo "rc=$?"
        after=$(cd "$MNT" && find synthetic -type f | sort | xargs md5sum)
        [ "$before" = "$after" ] && echo EARLIER_INTACT
        echo "runs: $(ls -A "$MNT/synthetic" | tr '\n' ' ')"
    "#;
    let Some((stdout, stderr)) = in_private_tmpfs(script, &[("MNT", &mount), ("EXP", &exp)]) else { return };
    assert!(!stdout.contains("FIRST_FAILED"), "the first run did not fit on 4 MiB:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.contains("rc=1"), "mon run did not fail on a full disk:\n{stdout}\n{stderr}");
    assert!(stderr.contains("small-disk/") && stderr.contains("is the disk full?") && stderr.contains("No space left"), "{stderr}");
    assert!(stdout.contains("EARLIER_INTACT"), "the earlier run was damaged:\n{stdout}");
    let runs = stdout.lines().find(|l| l.starts_with("runs: ")).unwrap().trim();
    assert_eq!(runs.split(' ').count(), 2, "only the first run, no partial folder: {runs}");
}
