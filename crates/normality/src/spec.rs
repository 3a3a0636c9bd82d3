//! The `name{key=value,...}` syntax shared by threshold rules and models of normality, so that a
//! configuration file names either the same way and every name printed parses back.

use std::collections::BTreeMap;
use std::str::FromStr;

/// A parsed spec whose parameters are taken one by one; [`Spec::finish`] refuses leftovers, so
/// a misspelt key is an error rather than a silently ignored setting.
pub(crate) struct Spec<'a> {
    name: &'a str,
    params: BTreeMap<String, String>,
    /// `threshold rule` or `model of normality`, for messages.
    kind: &'static str,
    /// Every accepted name with its parameters, for messages.
    syntax: &'static str,
}

pub(crate) type SpecResult<T> = std::result::Result<T, String>;

impl<'a> Spec<'a> {
    pub fn parse(spec: &'a str, kind: &'static str, syntax: &'static str) -> SpecResult<Self> {
        let spec = spec.trim();
        let Some(open) = spec.find('{') else {
            return Ok(Self { name: spec, params: BTreeMap::new(), kind, syntax });
        };
        let body = spec[open + 1..]
            .strip_suffix('}')
            .ok_or_else(|| format!("{kind} `{spec}` opens `{{` but does not end with `}}`"))?;
        let mut params = BTreeMap::new();
        for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("in `{spec}`: parameter `{pair}` should look like key=value"))?;
            if params.insert(key.trim().to_string(), value.trim().to_string()).is_some() {
                return Err(format!("in `{spec}`: parameter `{}` is given twice", key.trim()));
            }
        }
        Ok(Self { name: spec[..open].trim(), params, kind, syntax })
    }

    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The parameter `key` read as `T`, or `None` when absent.
    pub fn take<T: FromStr>(&mut self, key: &str, what: &str) -> SpecResult<Option<T>> {
        self.params
            .remove(key)
            .map(|v| v.parse::<T>().map_err(|_| format!("parameter `{key}` must be {what}, got `{v}`")))
            .transpose()
    }

    pub fn number(&mut self, key: &str) -> SpecResult<Option<f64>> {
        self.take(key, "a number")
    }

    pub fn count(&mut self, key: &str) -> SpecResult<Option<usize>> {
        self.take(key, "a whole number")
    }

    /// A word parameter whose `FromStr` error already lists the choices.
    pub fn word<T: FromStr<Err = String>>(&mut self, key: &str) -> SpecResult<Option<T>> {
        self.params.remove(key).map(|v| v.parse::<T>().map_err(|e| format!("parameter `{key}`: {e}"))).transpose()
    }

    /// A required number, with an example in the message when absent.
    pub fn required_number(&mut self, key: &str, example: &str) -> SpecResult<f64> {
        let name = self.name;
        self.number(key)?.ok_or_else(|| format!("{} `{name}` needs a {key}, e.g. {example}", self.kind))
    }

    pub fn unknown_name(&self) -> String {
        format!("unknown {} `{}`: expected one of {}", self.kind, self.name, self.syntax)
    }

    pub fn finish(self) -> SpecResult<()> {
        match self.params.keys().next() {
            Some(key) => Err(format!("{} `{}` has no parameter `{key}` (choices: {})", self.kind, self.name, self.syntax)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_parameters_and_refuses_leftovers() {
        let mut spec = Spec::parse(" knn { k = 5 , distance=cosine } ", "model", "knn{k}").unwrap();
        assert_eq!(spec.name(), "knn");
        assert_eq!(spec.count("k").unwrap(), Some(5));
        assert_eq!(spec.count("missing").unwrap(), None);
        let err = spec.finish().unwrap_err();
        assert!(err.contains("model `knn` has no parameter `distance`"), "{err}");
        assert!(Spec::parse("a{k=1,k=2}", "model", "").err().unwrap().contains("given twice"));
        assert!(Spec::parse("a{k}", "model", "").err().unwrap().contains("key=value"));
        let mut bad = Spec::parse("a{k=-1}", "model", "").unwrap();
        assert!(bad.count("k").unwrap_err().contains("whole number"));
    }
}
