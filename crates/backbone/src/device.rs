//! Choosing where the network runs. Burn 0.22 picks the backend at run time from the device.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::time::Duration;

use burn::tensor::{Device, Tensor};

use crate::Error;

/// The devices `mon` knows; `cpu` is the fastest CPU backend measured on our machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceChoice {
    /// The default CPU backend (Burn's flex backend).
    Cpu,
    /// Burn's pure-Rust flex backend, named explicitly.
    Flex,
    /// Burn's deprecated ndarray backend (build with the `ndarray` feature).
    Ndarray,
    /// The GPU through wgpu (Vulkan/Metal/DX12; build with the `wgpu` feature).
    Wgpu,
}

impl DeviceChoice {
    pub const ALL: [DeviceChoice; 4] = [DeviceChoice::Cpu, DeviceChoice::Flex, DeviceChoice::Ndarray, DeviceChoice::Wgpu];

    pub fn name(self) -> &'static str {
        match self {
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Flex => "flex",
            DeviceChoice::Ndarray => "ndarray",
            DeviceChoice::Wgpu => "wgpu",
        }
    }

    /// The backend that actually runs, for logs and `environment.json`.
    pub fn backend(self) -> &'static str {
        match self {
            DeviceChoice::Cpu | DeviceChoice::Flex => "burn-flex",
            DeviceChoice::Ndarray => "burn-ndarray",
            DeviceChoice::Wgpu => "burn-wgpu",
        }
    }

    /// Opens the device and checks that it can run a tensor operation, so that a missing GPU
    /// adapter is an error here rather than a panic in the middle of a run.
    pub fn open(self) -> Result<Device, Error> {
        let device = match self {
            // Never `Device::default()`: it prefers any wgpu adapter, even a software one that
            // is an order of magnitude slower than flex on the same CPU.
            DeviceChoice::Cpu | DeviceChoice::Flex => Device::flex(),
            DeviceChoice::Ndarray => ndarray_device()?,
            DeviceChoice::Wgpu => wgpu_device()?,
        };
        probe(self, &device)?;
        Ok(device)
    }
}

#[cfg(feature = "ndarray")]
fn ndarray_device() -> Result<Device, Error> {
    #[allow(deprecated)] // selectable on purpose, for comparison with flex
    Ok(Device::ndarray())
}

#[cfg(not(feature = "ndarray"))]
fn ndarray_device() -> Result<Device, Error> {
    Err(not_compiled(DeviceChoice::Ndarray))
}

/// Burn's automatic wgpu choice falls back to OpenGL when no Vulkan, Metal or DX12 adapter
/// exists; on headless Linux that path deadlocks inside wgpu-hal ("Could not lock adapter
/// context") instead of failing. So a native-API adapter is required first.
#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, Error> {
    let backends = wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12;
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
    if futures_lite::future::block_on(instance.enumerate_adapters(backends)).is_empty() {
        return Err(Error::Device {
            device: DeviceChoice::Wgpu.name(),
            reason: format!("no Vulkan, Metal or DX12 adapter was found{NO_ADAPTER_HINT}"),
        });
    }
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, Error> {
    Err(not_compiled(DeviceChoice::Wgpu))
}

#[allow(dead_code)] // unused when every backend is compiled in
fn not_compiled(choice: DeviceChoice) -> Error {
    Error::Device {
        device: choice.name(),
        reason: format!(
            "this build has no {} backend; rebuild with `cargo build --workspace --features mon-runner/{}` or use --device cpu",
            choice.backend(),
            choice.name()
        ),
    }
}

#[allow(dead_code)] // unused without the wgpu feature
const NO_ADAPTER_HINT: &str = ". Install a Vulkan driver (on Debian: `apt-get install mesa-vulkan-drivers libvulkan1`) or use --device cpu";

/// How long the first operation may take: a GPU backend compiles its kernels on first use.
const PROBE_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs one tiny operation on a helper thread. Burn panics (rather than returning an error)
/// when a backend cannot start, and a broken driver can hang, so the panic is caught and
/// silenced, and a probe that does not answer in time is an error too.
fn probe(choice: DeviceChoice, device: &Device) -> Result<(), Error> {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (sender, receiver) = std::sync::mpsc::channel();
    let probe_device = device.clone();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            (Tensor::<1>::from_floats([1.0, 2.0], &probe_device) * 2.0).try_into_data().map(|d| d.try_into_vec::<f32>())
        }));
        let _ = sender.send(outcome);
    });
    let outcome = receiver.recv_timeout(PROBE_TIMEOUT);
    std::panic::set_hook(previous_hook);
    let reason = match outcome {
        Ok(Ok(Ok(Ok(values)))) if values == [2.0, 4.0] => return Ok(()),
        Ok(Ok(Ok(Ok(values)))) => format!("a test multiplication gave {values:?} instead of [2.0, 4.0]"),
        Ok(Ok(Ok(Err(e)))) => format!("{e:?}"),
        Ok(Ok(Err(e))) => format!("{e:?}"),
        Ok(Err(panic)) => panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the backend panicked".into()),
        Err(_) => format!("a test operation did not finish within {} s", PROBE_TIMEOUT.as_secs()),
    };
    let hint = if choice == DeviceChoice::Wgpu { NO_ADAPTER_HINT } else { "" };
    Err(Error::Device { device: choice.name(), reason: format!("{reason}{hint}") })
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DeviceChoice::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown device `{s}`: expected one of cpu, flex, ndarray, wgpu"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_choices() {
        for choice in DeviceChoice::ALL {
            assert_eq!(choice.name().parse::<DeviceChoice>().unwrap(), choice);
        }
        assert!("tpu".parse::<DeviceChoice>().unwrap_err().contains("cpu, flex, ndarray, wgpu"));
    }

    /// A backend left out of the build says how to build it in, with a command that works from
    /// the workspace root.
    #[cfg(not(feature = "ndarray"))]
    #[test]
    fn a_backend_not_compiled_in_says_how_to_build_it() {
        let err = DeviceChoice::Ndarray.open().unwrap_err().to_string();
        assert!(err.contains("cargo build --workspace --features mon-runner/ndarray") && err.contains("--device cpu"), "{err}");
    }
}
