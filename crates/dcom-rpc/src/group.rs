//! Association groups shared by the connections of one server (MS-RPCE 3.3.1.4, C706 12.6.4.3 assoc_group_id).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The association groups of one server: a connection binding with assoc_group_id 0 gets a new group, one
/// binding with a known id joins it, an unknown id is refused (MS-RPCE 3.3.1.5.6 / 3.3.3.4.1.1).
#[derive(Debug)]
pub struct AssociationGroups {
    inner: Mutex<Groups>,
}

#[derive(Debug)]
struct Groups {
    next: u32,
    members: HashMap<u32, usize>,
}

impl AssociationGroups {
    /// Groups whose ids start at `seed` (a random value from the runtime; 0 is never handed out).
    #[must_use]
    pub fn new(seed: u32) -> Self {
        Self { inner: Mutex::new(Groups { next: seed.max(1), members: HashMap::new() }) }
    }

    /// Creates a group with one member and returns its id.
    pub fn create(&self) -> u32 {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let id = g.next;
            g.next = g.next.wrapping_add(1).max(1);
            if let std::collections::hash_map::Entry::Vacant(e) = g.members.entry(id) {
                e.insert(1);
                return id;
            }
        }
    }

    /// Joins the group `id`; false when it does not exist.
    pub fn join(&self, id: u32) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match g.members.get_mut(&id) {
            Some(n) => {
                *n = n.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Leaves the group `id`; the group ends with its last member.
    pub fn leave(&self, id: u32) {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = g.members.get_mut(&id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                g.members.remove(&id);
            }
        }
    }

    /// Number of connections in group `id`.
    #[must_use]
    pub fn members(&self, id: u32) -> usize {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.members.get(&id).copied().unwrap_or(0)
    }
}
