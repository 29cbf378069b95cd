//! Stored recordings on disk: client-supplied names kept inside their directory, and
//! listing and finding the files under it.

use super::*;

/// Joins a client-supplied recording name (which may contain `/` for sub-directories) to
/// `base`, refusing anything that could leave `base`: an empty name, an absolute path,
/// empty, `.` or `..` segments, NUL bytes, or more than [`MAX_NAME_LEN`] bytes.
///
/// This checks the name only; symbolic links inside `base` are the administrator's.
pub fn safe_join(base: &Path, name: &str) -> Result<PathBuf> {
    use MediaError::InvalidRecordingName as Invalid;
    if name.is_empty() {
        return Err(Invalid("empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Invalid("name too long"));
    }
    if name.contains('\0') {
        return Err(Invalid("NUL in name"));
    }
    if name.starts_with('/') {
        return Err(Invalid("absolute path"));
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err(Invalid("empty path segment")),
            "." | ".." => return Err(Invalid("'.' or '..' in path")),
            _ => {}
        }
    }
    let relative = Path::new(name);
    // Belt and braces: whatever the platform parses, only plain names may remain.
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(Invalid("not a plain relative path"));
    }
    Ok(base.join(relative))
}

/// A finished recording found under the recordings directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Relative name without extension, `/`-separated (`calls/msg1`).
    pub name: String,
    /// The format, from the file's extension.
    pub format: Format,
    /// The file's full path (under the recordings directory).
    pub path: PathBuf,
}

/// Every stored recording under `base` (recursively, as `GET /recordings/stored` lists
/// them), sorted by name then format: files with a known format's extension; hidden
/// files and `.partial` files are left out. A missing `base` gives an empty list.
pub fn list_recordings(base: &Path) -> Vec<StoredFile> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<StoredFile>) {
        if depth > 16 {
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            // No symbolic links followed: recordings are wari's own files.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                walk(&path, &format!("{prefix}{file_name}/"), depth + 1, out);
            } else if kind.is_file()
                && let Some((stem, format)) = Format::split_file_name(&file_name)
            {
                out.push(StoredFile {
                    name: format!("{prefix}{stem}"),
                    format,
                    path,
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(base, "", 0, &mut out);
    out.sort_by(|a, b| (a.name.as_str(), a.format).cmp(&(b.name.as_str(), b.format)));
    out
}

/// The stored recording `name` (any known format), if there is exactly one file for it;
/// with several formats the first in [`Format::PREFERENCE`] order. `name` is checked with
/// [`safe_join`].
pub fn find_recording(base: &Path, name: &str) -> Result<Option<StoredFile>> {
    let joined = safe_join(base, name)?;
    let Some(file_name) = joined
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    for format in Format::PREFERENCE {
        for ext in format.extensions() {
            let path = joined.with_file_name(format!("{file_name}.{ext}"));
            if path.is_file() {
                return Ok(Some(StoredFile {
                    name: name.to_owned(),
                    format,
                    path,
                }));
            }
        }
    }
    Ok(None)
}
