//! Changing a file so that a crash at any moment leaves either the old or the new version:
//! a temporary file in the same folder, fsync, rename over the original, fsync the folder.
//! Writers of one file take turns through a lock file beside it, and the version replaced
//! is kept as a backup, no more readable than the file was. A path that is a symbolic link
//! (a dotfiles checkout linked into place) is written through: the link stays, and its
//! target gets the new version, renamed into place in the target's own folder.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where the version before Keyward's last change is kept.
pub fn backup_path(path: &Path) -> PathBuf {
    sibling(path, ".keyward-backup", false)
}

fn lock_path(path: &Path) -> PathBuf {
    sibling(path, ".keyward-lock", true)
}

fn sibling(path: &Path, suffix: &str, hidden: bool) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = if hidden { format!(".{name}{suffix}") } else { format!("{name}{suffix}") };
    path.with_file_name(name)
}

/// The file `path` names once symbolic links are followed: itself if it is not a link, else
/// the link's target (which may not exist yet), through any chain of links.
pub fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut path = path.to_owned();
    // The same bound the kernel puts on a chain of links, so a loop ends in an error.
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                // A relative target is relative to the link's folder; `join` keeps an absolute one.
                path = path.parent().map_or_else(|| target.clone(), |folder| folder.join(&target));
            }
            _ => return Ok(path),
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidInput, "it is a loop of symbolic links"))
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &File, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_: &Path) -> Option<u32> {
    None
}

/// Writes `bytes` to `path` atomically. `owner_only` makes the file readable by its owner
/// alone (for files holding a secret); otherwise an existing file keeps its permissions.
pub fn write_atomically(path: &Path, bytes: &[u8], owner_only: bool) -> io::Result<()> {
    let path = resolve_links(path)?;
    let mode = if owner_only { 0o600 } else { mode_of(&path).unwrap_or(0o644) };
    write_with_mode(&path, bytes, mode)
}

/// Writes `bytes` to `path` (not a link) atomically, with permissions `mode` (on Unix) from
/// the first byte on: the temporary file is never more readable than the result.
fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&folder)?;
    let mut temp = tempfile::NamedTempFile::new_in(&folder)?;
    set_mode(temp.as_file(), mode)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    File::open(&folder)?.sync_all()?;
    Ok(())
}

/// Why a file could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    #[error("{0}")]
    Edit(E),
    #[error("Could not {action} {path} ({source}). Check that the folder exists and is writable.")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
}

/// How [`update`] writes the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteMode {
    /// Make the file readable by its owner only (it holds a secret).
    pub owner_only: bool,
    /// Keep the replaced version as a backup. Off when that version held a secret that
    /// the change is removing, so the secret does not outlive its entry on disk.
    pub skip_backup: bool,
}

/// What an edit asks [`update`] to do with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Leave it byte for byte as it is.
    Keep,
    /// Replace its content with this text.
    Write(String),
    /// Delete it (undo of a file Keyward created and nobody wrote to since), with its lock
    /// file, and the folders its creation made (from its own up to `made_folder`) while each is
    /// empty. No backup is kept: the file holds only what Keyward wrote, perhaps a secret.
    Remove { made_folder: Option<PathBuf> },
}

impl From<Option<String>> for Change {
    fn from(text: Option<String>) -> Change {
        text.map_or(Change::Keep, Change::Write)
    }
}

/// What [`update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated {
    /// The file was written; the previous version, if there was one, is at `backup`.
    Written { backup: Option<PathBuf> },
    /// The edit asked for no change; the file was not touched.
    Unchanged,
    /// The edit asked for the file to go, and it went.
    Removed,
}

/// Reads `path` (None if missing), lets `edit` say what to do with it, and does it
/// atomically, keeping a backup of the old version when it writes. Holds the file's lock
/// throughout, so concurrent updates apply one after the other and none is lost.
/// If `edit` fails, the file is left byte for byte as it was.
pub fn update<E>(
    path: &Path,
    mode: WriteMode,
    edit: impl FnOnce(Option<&str>) -> Result<Change, E>,
) -> Result<Updated, UpdateError<E>> {
    let owner_only = mode.owner_only;
    let io_err = |action, source| UpdateError::Io { action, path: path.to_owned(), source };
    // Lock, back up and write the link's target, so the link stays a link.
    let path = &resolve_links(path).map_err(|e| io_err("follow the link", e))?;
    let lock = take_lock(path).map_err(|e| io_err("lock", e))?;
    let current = match fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_err("read", e)),
    };
    let text = match &current {
        Some(bytes) => Some(String::from_utf8(bytes.clone()).map_err(|_| {
            io_err("read", io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8 text"))
        })?),
        None => None,
    };
    let new_text = match edit(text.as_deref()).map_err(UpdateError::Edit)? {
        Change::Keep => return Ok(Updated::Unchanged),
        Change::Remove { .. } if current.is_none() => return Ok(Updated::Unchanged),
        Change::Remove { made_folder } => {
            fs::remove_file(path).map_err(|e| io_err("remove", e))?;
            // The file is gone, which is what was asked; what stood around it goes if it can.
            // A backup is of a version this undo takes back too (perhaps with a secret in it).
            // The lock file goes while still held (see `take_lock`). On Windows a file another
            // program holds open lingers after removal and cannot be opened again, which
            // would fail that program's next update, so the lock file (and so its folder) stays.
            let _ = remove_stale(&backup_path(path));
            if cfg!(unix) && remove_stale(&lock_path(path)).is_ok()
                && let Some(made) = made_folder
            {
                for folder in path.ancestors().skip(1).take_while(|f| f.starts_with(&made)) {
                    if fs::remove_dir(folder).is_err() {
                        break; // Not empty: something else lives there now.
                    }
                }
            }
            return Ok(Updated::Removed);
        }
        Change::Write(text) => text,
    };
    let backup = match &current {
        Some(_) if mode.skip_backup => {
            remove_stale(&backup_path(path)).map_err(|e| io_err("remove the old backup of", e))?;
            None
        }
        Some(bytes) => {
            // The backup holds what the file held, so it is exactly as readable as the file.
            let backup_mode = mode_of(path).map_or(0o600, |m| if owner_only { m & 0o700 } else { m });
            let backup = backup_path(path);
            write_with_mode(&backup, bytes, backup_mode).map_err(|e| io_err("back up", e))?;
            Some(backup)
        }
        None => None,
    };
    write_atomically(path, new_text.as_bytes(), owner_only).map_err(|e| io_err("write", e))?;
    drop(lock);
    Ok(Updated::Written { backup })
}

/// Takes the lock on `path`, making its folder if need be: the lock file beside it, locked,
/// and (on Unix) still the one at its path. Undoing a file Keyward created removes the lock
/// file, and the folder if it made it and nothing else is there, while holding the lock. A
/// writer that was waiting then holds a lock on a file no longer there, which guards nothing,
/// so it takes the one now at the path instead; if the folder went between making it and
/// opening the lock file, it makes it again.
fn take_lock(path: &Path) -> io::Result<File> {
    let at = lock_path(path);
    // Each retry follows an undo that removed the lock file, which needs the lock: a few in a
    // row are possible, a hundred would mean the file system does not keep a file's identity.
    for _ in 0..100 {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(folder)?;
        }
        let lock = match OpenOptions::new().create(true).truncate(false).write(true).open(&at) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        lock.lock()?;
        if still_at(&lock, &at)? {
            return Ok(lock);
        }
    }
    Err(io::Error::other("its lock file kept being replaced while Keyward waited for it"))
}

/// Whether the locked file `lock` is the file at `at` now, not one an undo removed.
#[cfg(unix)]
fn still_at(lock: &File, at: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = lock.metadata()?;
    match fs::metadata(at) {
        Ok(there) => Ok((there.dev(), there.ino()) == (held.dev(), held.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Elsewhere the lock file is never removed (see the removal in [`update`]), so the locked
/// file is always the one at its path.
#[cfg(not(unix))]
fn still_at(_: &File, _: &Path) -> io::Result<bool> {
    Ok(true)
}

fn remove_stale(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
