//! The minimap2 index is loaded once per process and shared (`Arc`) by every align instance that
//! runs at the same time (several samples on one node): a human index is several GB. The cache
//! holds weak references, so the index is freed when the last user finishes.

use crate::engine::stage::StageError;
use minimap2::{Aligner, Built};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

type Shared = Arc<Aligner<Built>>;

static CACHE: Mutex<Option<HashMap<PathBuf, Weak<Aligner<Built>>>>> = Mutex::new(None);

/// The index at `mmi`, loaded now or shared with a running instance.
pub(super) fn load(mmi: &Path, threads: usize) -> Result<Shared, StageError> {
    // Holding the lock while loading makes a second instance wait instead of loading a copy.
    let mut guard = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    if let Some(live) = cache.get(mmi).and_then(Weak::upgrade) {
        return Ok(live);
    }
    tracing::info!(index = %mmi.display(), "loading the minimap2 index");
    let aligner = crate::align::index::load_index(mmi, threads)
        .map_err(|e| StageError::runtime(format!("{}: cannot load the minimap2 index: {e}", mmi.display())))?;
    let shared = Arc::new(aligner);
    cache.retain(|_, w| w.strong_count() > 0);
    cache.insert(mmi.to_path_buf(), Arc::downgrade(&shared));
    Ok(shared)
}
