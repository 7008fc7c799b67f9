//! Operating systems other than Linux: the crate builds, but no server starts.

use crate::{Error, Options, RunningServer, ServerUser};
use std::path::{Path, PathBuf};

/// Never constructed: [`start`] always fails.
#[derive(Debug)]
pub(crate) enum Server {}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        match *self {}
    }

    pub(crate) fn socket_dir(&self) -> &Path {
        match *self {}
    }

    pub(crate) fn cluster_dir(&self) -> &Path {
        match *self {}
    }

    pub(crate) fn log_file(&self) -> &Path {
        match *self {}
    }

    pub(crate) fn stop(&mut self) -> Result<(), Error> {
        match *self {}
    }

    pub(crate) fn exited(&mut self) -> Result<Option<std::process::ExitStatus>, Error> {
        match *self {}
    }

    pub(crate) fn restart(&mut self) -> Result<(), Error> {
        match *self {}
    }
}

pub(crate) fn running_as_root() -> bool {
    false
}

pub(crate) fn server_os_user() -> Result<Option<ServerUser>, Error> {
    Ok(None)
}

pub(crate) fn become_server_user(_user: &ServerUser) -> Result<(), Error> {
    Err(Error::Unsupported)
}

pub(crate) fn start(_options: &Options) -> Result<Server, Error> {
    Err(Error::Unsupported)
}

pub(crate) fn running_server(_options: &Options) -> Option<RunningServer> {
    None
}

pub(crate) fn program(_options: &Options, _name: &str) -> Result<PathBuf, Error> {
    Err(Error::Unsupported)
}

/// Only PATH: the installation layouts searched on Linux are Debian's.
pub(crate) fn find_program(name: &str) -> Result<PathBuf, Error> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::ProgramNotFound {
            program: name.to_string(),
            searched: "on PATH".to_string(),
        })
}
