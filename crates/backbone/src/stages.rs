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
