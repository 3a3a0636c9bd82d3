//! The grid an experiment expands into: one cell per dataset × category × backbone × tap ×
//! seed × model of normality (threshold rules are evaluated inside a cell: they are cheap and
//! share its scores). Cells are numbered in this order, which fixes the row order of every
//! output, sharded or not.

use std::fmt;
use std::str::FromStr;

use crate::experiment::Plan;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Position in the whole (unsharded) grid.
    pub index: usize,
    pub dataset: usize,
    pub category: String,
    pub backbone: usize,
    pub tap: String,
    pub seed: u64,
    pub model: usize,
}

impl Cell {
    /// `dataset/category/backbone@tap/seed/model`, for logs and `--dry-run`.
    pub fn label(&self, plan: &Plan) -> String {
        format!(
            "{}/{}/{}@{}/seed={}/{}",
            plan.experiment.dataset[self.dataset].name,
            self.category,
            plan.backbones[self.backbone].spec.name,
            self.tap,
            self.seed,
            plan.models[self.model].label
        )
    }

    /// Cells that read the same images through the same backbone share one extraction.
    pub fn extraction_group(&self) -> (usize, &str, usize) {
        (self.dataset, &self.category, self.backbone)
    }
}

/// Every cell, given each dataset's category names (in `plan.experiment.dataset` order).
pub fn expand(plan: &Plan, categories: &[Vec<String>]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (dataset, names) in categories.iter().enumerate() {
        for category in names {
            for (backbone, choice) in plan.backbones.iter().enumerate() {
                for tap in &choice.taps {
                    for &seed in &plan.seeds {
                        for model in 0..plan.models.len() {
                            let index = cells.len();
                            cells.push(Cell {
                                index,
                                dataset,
                                category: category.clone(),
                                backbone,
                                tap: tap.clone(),
                                seed,
                                model,
                            });
                        }
                    }
                }
            }
        }
    }
    cells
}

/// `I/N`: the I-th of N shards (1-based) runs cells I−1, I−1+N, I−1+2N, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn contains(&self, cell: &Cell) -> bool {
        cell.index % self.count == self.index - 1
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a shard: write I/N with 1 ≤ I ≤ N, e.g. 1/4 (Slurm: $((SLURM_ARRAY_TASK_ID+1))/N)"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<usize>().map_err(|_| bad())?,
            n.trim().parse::<usize>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_grid() {
        let cells: Vec<Cell> = (0..10)
            .map(|index| Cell {
                index,
                dataset: 0,
                category: "c".into(),
                backbone: 0,
                tap: "t".into(),
                seed: 0,
                model: 0,
            })
            .collect();
        let shards: Vec<Shard> = ["1/3", "2/3", "3/3"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for cell in &cells {
            assert_eq!(
                shards.iter().filter(|s| s.contains(cell)).count(),
                1,
                "cell {} in exactly one shard",
                cell.index
            );
        }
        assert!(Shard::WHOLE.contains(&cells[7]));
        assert_eq!(shards[1].to_string(), "2/3");
        for bad in ["0/2", "3/2", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("I/N"), "{bad}");
        }
    }
}
