//! Reading activation maps out of a network at named stages ("feature taps").

use burn::tensor::Tensor;

/// A network whose intermediate activation maps can be read at named stages.
pub trait Stages {
    /// Stage names in forward order; a tap is one of these names.
    fn stage_names(&self) -> Vec<String>;

    /// Whether the network was built with its ImageNet classifier (so that logits exist).
    fn has_classifier(&self) -> bool;

    /// Runs the network as far as the deepest wanted stage (to the end when `logits`), keeping
    /// the maps of the `wanted` stage indices.
    fn forward_stages(&self, input: Tensor<4>, wanted: &[usize], logits: bool) -> StageOutputs;
}

/// One stage of a forward pass, from the previous stage's map to its own.
pub type Stage<'a> = Box<dyn Fn(Tensor<4>) -> Tensor<4> + 'a>;

/// The maps kept by [`Stages::forward_stages`], in the order the stages were asked for.
pub struct StageOutputs {
    wanted: Vec<usize>,
    slots: Vec<Option<Tensor<4>>>,
    pub logits: Option<Tensor<2>>,
}

impl StageOutputs {
    pub fn new(wanted: &[usize]) -> Self {
        Self { wanted: wanted.to_vec(), slots: vec![None; wanted.len()], logits: None }
    }

    /// Keeps `map` for every request of stage `index`.
    pub fn offer(&mut self, index: usize, map: &Tensor<4>) {
        for (slot, _) in self.slots.iter_mut().zip(&self.wanted).filter(|(_, w)| **w == index) {
            *slot = Some(map.clone());
        }
    }

    /// Whether every wanted stage has been reached, so the forward pass may stop.
    pub fn complete(&self) -> bool {
        self.slots.iter().all(Option::is_some)
    }

    /// Runs `stages` in order from `input`, keeping the output of stage `i` where wanted, and
    /// stops as soon as every wanted stage is kept unless `to_end` (logits need the last map).
    /// Returns the last stage's output when the chain ran to the end.
    pub fn run<'a>(&mut self, input: Tensor<4>, stages: impl IntoIterator<Item = Stage<'a>>, to_end: bool) -> Option<Tensor<4>> {
        let mut x = input;
        for (index, stage) in stages.into_iter().enumerate() {
            if self.complete() && !to_end {
                return None;
            }
            x = stage(x);
            self.offer(index, &x);
        }
        Some(x)
    }

    /// The kept maps in request order.
    ///
    /// # Panics
    /// If a wanted stage index does not exist in the network (callers resolve names first).
    pub fn into_maps(self) -> Vec<Tensor<4>> {
        self.slots
            .into_iter()
            .zip(self.wanted)
            .map(|(slot, index)| slot.unwrap_or_else(|| panic!("stage {index} is not in this network")))
            .collect()
    }
}

/// `[N, C, H, W]` → `[N, C]`, the mean over positions.
pub fn global_avg_pool(x: Tensor<4>) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    x.mean_dims(&[2, 3]).reshape([n, c])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DeviceChoice;
    use crate::extractor::to_host;

    /// Three stages that add 1, 10 and 100, counting how many ran.
    fn run(wanted: &[usize], to_end: bool) -> (StageOutputs, Option<Tensor<4>>, usize) {
        let device = DeviceChoice::Cpu.open().unwrap();
        let ran = std::cell::Cell::new(0);
        let stages = [1.0, 10.0, 100.0].map(|step| {
            let ran = &ran;
            Box::new(move |x: Tensor<4>| {
                ran.set(ran.get() + 1);
                x + step
            }) as Stage
        });
        let mut out = StageOutputs::new(wanted);
        let last = out.run(Tensor::zeros([1, 1, 1, 1], &device), stages, to_end);
        (out, last, ran.get())
    }

    #[test]
    fn runs_only_as_far_as_needed_and_keeps_maps_in_request_order() {
        let (out, last, ran) = run(&[1, 0], false);
        assert_eq!((last.is_none(), ran), (true, 2), "stage 2 is neither wanted nor needed");
        let maps: Vec<Vec<f32>> = out.into_maps().into_iter().map(|m| to_host(m).unwrap()).collect();
        assert_eq!(maps, [vec![11.0], vec![1.0]]);

        let (out, last, ran) = run(&[0], true);
        assert_eq!(ran, 3, "logits need the whole chain");
        assert_eq!(to_host(last.unwrap()).unwrap(), [111.0]);
        assert_eq!(to_host(out.into_maps().remove(0)).unwrap(), [1.0]);
    }
}
