//! `mon features`: one forward pass per batch, every requested tap read out, written to a
//! safetensors file (one tensor per tap, plus `logits`) that PyTorch or numpy users can open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use mon_backbone::{Backbone, DeviceChoice, HostTensor, Pooling, Readout, find_backbone};
use safetensors::{Dtype, SafeTensors};

use crate::extract::preprocess_batch;

#[derive(Args, Debug)]
pub struct FeaturesArgs {
    /// A backbone from `mon weights list`, e.g. resnet18.
    #[arg(long)]
    backbone: String,
    /// Weights file; the catalogue's file under weights/ when absent.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Image files, preprocessed as the backbone's weights expect.
    #[arg(long, num_args = 1.., required_unless_present = "tensor", conflicts_with = "tensor")]
    images: Vec<PathBuf>,
    /// An already preprocessed `[N, 3, H, W]` f32 input: FILE.safetensors:TENSOR_NAME.
    #[arg(long, value_name = "FILE:NAME")]
    tensor: Option<String>,
    /// Stages to read out, comma-separated (e.g. layer2,layer3); `mon weights list` names them.
    #[arg(long, value_delimiter = ',', required = true)]
    taps: Vec<String>,
    /// avg, max, avgmax (both concatenated) → [N, C]; none keeps the maps → [N, C, H, W].
    #[arg(long, default_value = "avg")]
    pool: String,
    /// Scale each pooled feature vector to unit length.
    #[arg(long)]
    l2: bool,
    /// With --pool none: resize every map to this grid (bilinear), e.g. 28x28.
    #[arg(long, value_name = "HxW")]
    grid: Option<String>,
    /// Also write the ImageNet classifier's `logits` [N, 1000].
    #[arg(long)]
    logits: bool,
    /// The safetensors file to write.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    force: bool,
    /// cpu, flex, ndarray or wgpu.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    batch: usize,
}

/// Runs the command; returns a one-line summary of what was written.
pub fn features(args: &FeaturesArgs) -> Result<String> {
    ensure!(args.batch > 0, "--batch must be at least 1");
    if args.out.exists() && !args.force {
        bail!("{} exists; choose another --out or pass --force to replace it", args.out.display());
    }
    let readout = parse_readout(&args.pool, args.l2, args.grid.as_deref())?;
    let spec = find_backbone(&args.backbone)?;
    let device: DeviceChoice = args.device.parse().map_err(anyhow::Error::msg)?;
    let weights = args.weights.clone().unwrap_or_else(|| spec.default_weights());
    let backbone = Backbone::load(spec, &weights, device.open()?)?;
    crate::experiment::distinct(args.taps.iter().map(String::as_str)).map_err(|msg| anyhow::anyhow!("--taps: {msg}"))?;
    let taps = backbone.resolve_taps(&args.taps)?;

    let input = match &args.tensor {
        Some(arg) => Input::Tensor(read_input_tensor(arg)?),
        None => Input::Images(&args.images),
    };
    let mut outputs: Vec<Accumulated> = args.taps.iter().map(|t| Accumulated::new(t)).collect();
    if args.logits {
        outputs.push(Accumulated::new("logits"));
    }
    input.for_each_batch(&backbone, args.batch, |batch, shape| {
        let extracted = backbone.extract(batch, shape, &taps, readout, args.logits)?;
        for (acc, tensor) in outputs.iter_mut().zip(extracted.taps.into_iter().chain(extracted.logits)) {
            acc.push(tensor);
        }
        Ok(())
    })?;

    let metadata = HashMap::from([
        ("backbone".to_string(), spec.name.to_string()),
        ("weights".to_string(), weights.display().to_string()),
        ("readout".to_string(), describe(readout)),
    ]);
    write_atomically(&args.out, &outputs, metadata)?;
    let shapes: Vec<String> = outputs.iter().map(|o| format!("{} {:?}", o.name, o.shape)).collect();
    Ok(format!("wrote {}: {}", args.out.display(), shapes.join(", ")))
}

fn parse_readout(pool: &str, l2: bool, grid: Option<&str>) -> Result<Readout> {
    if pool == "none" {
        ensure!(!l2, "--l2 applies to pooled features; drop it or choose --pool avg|max|avgmax");
        let grid = grid.map(parse_grid).transpose()?;
        return Ok(Readout::Map { grid });
    }
    ensure!(grid.is_none(), "--grid resizes maps; it needs --pool none");
    let pooling: Pooling = pool.parse().map_err(|e: String| anyhow::anyhow!("--pool: {e} or none"))?;
    Ok(Readout::Pooled { pooling, l2 })
}

/// The largest --grid side: feature maps are far smaller (56 at most for 224 px inputs), and a
/// grid past this would ask for more memory than a machine has.
const MAX_GRID_SIDE: usize = 1024;

fn parse_grid(text: &str) -> Result<[usize; 2]> {
    let parse = || -> Option<[usize; 2]> {
        let (h, w) = text.split_once(['x', 'X'])?;
        let (h, w) = (h.trim().parse().ok()?, w.trim().parse().ok()?);
        (h > 0 && w > 0 && h <= MAX_GRID_SIDE && w <= MAX_GRID_SIDE).then_some([h, w])
    };
    parse().with_context(|| {
        format!("--grid `{text}`: expected HEIGHTxWIDTH with sizes from 1 to {MAX_GRID_SIDE}, e.g. 28x28")
    })
}

fn describe(readout: Readout) -> String {
    match readout {
        Readout::Pooled { pooling, l2 } => format!("pool={pooling}{}", if l2 { ",l2" } else { "" }),
        Readout::Map { grid: None } => "maps".into(),
        Readout::Map { grid: Some([h, w]) } => format!("maps resized to {h}x{w}"),
    }
}

enum Input<'a> {
    Images(&'a [PathBuf]),
    /// `[N, 3, H, W]` values and shape.
    Tensor((Vec<f32>, [usize; 4])),
}

impl Input<'_> {
    fn for_each_batch(&self, backbone: &Backbone, batch: usize, mut f: impl FnMut(Vec<f32>, [usize; 4]) -> Result<()>) -> Result<()> {
        match self {
            Input::Images(paths) => {
                let side = backbone.spec().preprocess.crop as usize;
                for chunk in paths.chunks(batch) {
                    f(preprocess_batch(&backbone.spec().preprocess, chunk)?, [chunk.len(), 3, side, side])?;
                }
            }
            Input::Tensor((values, [n, c, h, w])) => {
                let per_image = c * h * w;
                for (i, chunk) in values.chunks(batch * per_image).enumerate() {
                    let rows = chunk.len() / per_image;
                    f(chunk.to_vec(), [rows, *c, *h, *w]).with_context(|| format!("images {}..{} of {n}", i * batch, i * batch + rows))?;
                }
            }
        }
        Ok(())
    }
}

fn read_input_tensor(arg: &str) -> Result<(Vec<f32>, [usize; 4])> {
    let (file, name) = arg
        .rsplit_once(':')
        .with_context(|| format!("--tensor `{arg}`: expected FILE.safetensors:TENSOR_NAME"))?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read --tensor file {file}"))?;
    let tensors = SafeTensors::deserialize(&bytes).with_context(|| format!("{file} is not a safetensors file"))?;
    let view = tensors.tensor(name).map_err(|_| {
        let mut names = tensors.names();
        names.sort();
        anyhow::anyhow!("{file} has no tensor `{name}`; it has {}", names.join(", "))
    })?;
    ensure!(view.dtype() == Dtype::F32, "{file}:{name} is {:?}; convert it to float32", view.dtype());
    let shape: [usize; 4] = view
        .shape()
        .try_into()
        .ok()
        .filter(|s: &[usize; 4]| s[1] == 3 && s[0] > 0)
        .with_context(|| format!("{file}:{name} has shape {:?}; expected [N, 3, H, W]", view.shape()))?;
    let values = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok((values, shape))
}

/// One output tensor, grown batch by batch along the first axis.
struct Accumulated {
    name: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Accumulated {
    fn new(name: &str) -> Self {
        Self { name: name.to_string(), shape: Vec::new(), bytes: Vec::new() }
    }

    fn push(&mut self, t: HostTensor) {
        match self.shape.first_mut() {
            Some(n) => *n += t.shape[0],
            None => self.shape = t.shape,
        }
        self.bytes.extend(t.data.iter().flat_map(|v| v.to_le_bytes()));
    }
}

/// Writes beside `out` and renames, so an interrupted run never leaves a half-written file
/// that could be mistaken for features.
fn write_atomically(out: &Path, outputs: &[Accumulated], metadata: HashMap<String, String>) -> Result<()> {
    let views = outputs
        .iter()
        .map(|o| Ok((o.name.clone(), safetensors::tensor::TensorView::new(Dtype::F32, o.shape.clone(), &o.bytes)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let bytes = safetensors::serialize(views, Some(metadata))?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}; check that the folder exists and is writable", dir.display()))?;
    std::io::Write::write_all(&mut temp, &bytes).with_context(|| format!("writing {} (is the disk full?)", out.display()))?;
    temp.persist(out).with_context(|| format!("cannot create {}", out.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readouts_parse_and_reject_contradictions() {
        assert_eq!(parse_readout("avgmax", true, None).unwrap(), Readout::Pooled { pooling: Pooling::AvgMax, l2: true });
        assert_eq!(parse_readout("none", false, Some("28x14")).unwrap(), Readout::Map { grid: Some([28, 14]) });
        assert!(parse_readout("none", true, None).unwrap_err().to_string().contains("--l2"));
        assert!(parse_readout("avg", false, Some("4x4")).unwrap_err().to_string().contains("--pool none"));
        assert!(parse_readout("mean", false, None).unwrap_err().to_string().contains("avgmax"));
        assert!(parse_grid("0x4").is_err() && parse_grid("28").is_err());
    }
}
