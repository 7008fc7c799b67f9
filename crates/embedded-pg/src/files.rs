//! Opening the launcher's own files in directories that another user may own (the
//! cluster directory belongs to `postgres` when we are root; `DATA_DIR` to anyone).
//!
//! A file is opened with `O_NOFOLLOW` (a symbolic link in its last component fails
//! instead of being followed) and `O_NONBLOCK` (a FIFO cannot make the open hang), then
//! checked with `fstat` on the open descriptor, so there is no gap between the check and
//! the use: it must be a regular file with one link, and, where asked, have an expected
//! owner. Anything else is an [`Error::UnsafeFile`] and is left untouched.

use crate::error::Error;
use nix::libc;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// How to open a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Read only; a missing file is `Ok(None)`.
    Read,
    /// Append, creating the file (mode 0600) if it is missing.
    Append,
    /// Read and write, creating the file (mode 0644) if it is missing. Never truncated
    /// by the open itself.
    ReadWrite,
}

/// An opened file, and whether this open created it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) created: bool,
}

/// Opens `path` as described in the module docs. `owners`, if given, lists the uids an
/// existing file may belong to (a file this call creates is ours by definition).
pub(crate) fn open(
    path: &Path,
    mode: Mode,
    owners: Option<&[u32]>,
) -> Result<Option<Opened>, Error> {
    let opened = match mode {
        Mode::Read => match options(mode).open(path) {
            Ok(file) => Opened {
                file,
                created: false,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(open_error(path, e)),
        },
        Mode::Append | Mode::ReadWrite => open_or_create(path, mode)?,
    };
    check(
        &opened.file,
        path,
        if opened.created { None } else { owners },
    )?;
    Ok(Some(opened))
}

/// Reads at most `limit` bytes of a file opened with [`open`]; `Ok(None)` if it is missing.
pub(crate) fn read_to_string(path: &Path, limit: u64) -> Result<Option<String>, Error> {
    let Some(opened) = open(path, Mode::Read, None)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    opened
        .file
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(crate::error::io_err(format!("reading {}", path.display())))?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

fn options(mode: Mode) -> OpenOptions {
    let mut options = OpenOptions::new();
    match mode {
        Mode::Read => options.read(true),
        Mode::Append => options.append(true).mode(0o600),
        Mode::ReadWrite => options.read(true).write(true).mode(0o644),
    };
    // std adds O_CLOEXEC: no child process inherits these descriptors.
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    options
}

/// `O_CREAT | O_EXCL` first (which never follows a symbolic link), so that we know
/// whether the file is one we created; then the existing file.
fn open_or_create(path: &Path, mode: Mode) -> Result<Opened, Error> {
    for _ in 0..3 {
        match options(mode).create_new(true).open(path) {
            Ok(file) => {
                return Ok(Opened {
                    file,
                    created: true,
                });
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(open_error(path, e)),
        }
        match options(mode).open(path) {
            Ok(file) => {
                return Ok(Opened {
                    file,
                    created: false,
                });
            }
            // Removed in between: try to create it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(open_error(path, e)),
        }
    }
    Err(Error::Io {
        context: format!("opening {}", path.display()),
        source: io::Error::other("it keeps appearing and disappearing"),
    })
}

/// The error of a failed open: the refusals `O_NOFOLLOW` and `O_NONBLOCK` cause say
/// what the file is; the rest are I/O errors.
fn open_error(path: &Path, e: io::Error) -> Error {
    match e.raw_os_error() {
        // ELOOP: a symbolic link (O_NOFOLLOW). ENXIO: a FIFO without a reader or a
        // socket (O_NONBLOCK, write). EISDIR: a directory opened for writing.
        Some(libc::ELOOP | libc::ENXIO | libc::EISDIR | libc::EWOULDBLOCK) => Error::UnsafeFile {
            path: path.to_path_buf(),
            problem: match fs::symlink_metadata(path) {
                Ok(meta) => describe(&meta.file_type()).to_string(),
                Err(_) => format!("cannot be opened safely ({e})"),
            },
        },
        _ => Error::Io {
            context: format!("opening {}", path.display()),
            source: e,
        },
    }
}

fn check(file: &File, path: &Path, owners: Option<&[u32]>) -> Result<(), Error> {
    let meta = file.metadata().map_err(crate::error::io_err(format!(
        "reading metadata of {}",
        path.display()
    )))?;
    let unsafe_file = |problem: String| Error::UnsafeFile {
        path: path.to_path_buf(),
        problem,
    };
    if !meta.file_type().is_file() {
        return Err(unsafe_file(describe(&meta.file_type()).to_string()));
    }
    if meta.nlink() != 1 {
        return Err(unsafe_file(format!(
            "has {} hard links (a plain file has one)",
            meta.nlink()
        )));
    }
    if let Some(owners) = owners
        && !owners.contains(&meta.uid())
    {
        let expected: Vec<String> = owners.iter().map(u32::to_string).collect();
        return Err(unsafe_file(format!(
            "is owned by uid {}, not by uid {}",
            meta.uid(),
            expected.join(" or ")
        )));
    }
    Ok(())
}

/// What a file that is not a regular file is, as "it ...".
pub(crate) fn describe(file_type: &fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "is a symbolic link"
    } else if file_type.is_fifo() {
        "is a FIFO (named pipe)"
    } else if file_type.is_dir() {
        "is a directory"
    } else if file_type.is_socket() {
        "is a socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "is a device"
    } else if file_type.is_file() {
        "is a regular file"
    } else {
        "is not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{TempDir, mkfifo};
    use std::os::unix::fs::symlink;

    #[test]
    fn plain_files_open_and_report_creation() {
        let tmp = TempDir::new("files-plain");
        let path = tmp.path().join("log");
        let first = open(&path, Mode::Append, Some(&[12345])).unwrap().unwrap();
        assert!(first.created, "created by this open");
        let again = open(&path, Mode::Append, None).unwrap().unwrap();
        assert!(!again.created);
        let me = fs::metadata(&path).unwrap().uid();
        assert!(open(&path, Mode::Append, Some(&[me])).is_ok());
        let err = open(&path, Mode::Append, Some(&[me + 1])).unwrap_err();
        assert!(
            err.to_string().contains(&format!("is owned by uid {me}")),
            "{err}"
        );
        assert!(
            open(&tmp.path().join("missing"), Mode::Read, None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn symlinks_are_refused_and_their_targets_untouched() {
        let tmp = TempDir::new("files-symlink");
        let target = tmp.path().join("target");
        fs::write(&target, "precious").unwrap();
        let link = tmp.path().join("link");
        symlink(&target, &link).unwrap();
        for mode in [Mode::Read, Mode::Append, Mode::ReadWrite] {
            let err = open(&link, mode, None).unwrap_err();
            assert!(
                matches!(&err, Error::UnsafeFile { problem, .. } if problem == "is a symbolic link"),
                "{mode:?}: {err}"
            );
            assert!(err.to_string().contains("refusing to use"), "{err}");
        }
        // A dangling link is not followed to create its target either.
        let dangling = tmp.path().join("dangling");
        symlink(tmp.path().join("would-be-created"), &dangling).unwrap();
        assert!(open(&dangling, Mode::Append, None).is_err());
        assert!(!tmp.path().join("would-be-created").exists());
        assert_eq!(fs::read_to_string(&target).unwrap(), "precious");
    }

    #[test]
    fn fifos_are_refused_without_hanging() {
        let tmp = TempDir::new("files-fifo");
        let fifo = tmp.path().join("fifo");
        mkfifo(&fifo);
        for mode in [Mode::Read, Mode::Append, Mode::ReadWrite] {
            let err = open(&fifo, mode, None).unwrap_err();
            assert!(
                matches!(&err, Error::UnsafeFile { problem, .. } if problem.contains("FIFO")),
                "{mode:?}: {err}"
            );
        }
        assert!(read_to_string(&fifo, 64).is_err());
    }

    #[test]
    fn directories_and_hard_links_are_refused() {
        let tmp = TempDir::new("files-other");
        let dir = tmp.path().join("dir");
        fs::create_dir(&dir).unwrap();
        for mode in [Mode::Read, Mode::Append] {
            let err = open(&dir, mode, None).unwrap_err();
            assert!(err.to_string().contains("is a directory"), "{err}");
        }
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        fs::hard_link(&file, tmp.path().join("second-name")).unwrap();
        let err = open(&file, Mode::Read, None).unwrap_err();
        assert!(err.to_string().contains("2 hard links"), "{err}");
    }

    #[test]
    fn reads_are_bounded() {
        let tmp = TempDir::new("files-bounded");
        let file = tmp.path().join("big");
        fs::write(&file, "x".repeat(10_000)).unwrap();
        assert_eq!(read_to_string(&file, 16).unwrap().unwrap().len(), 16);
    }
}
