//! A minimal connection pool: connections are made on demand and returned on drop.
//! vouch's concurrency is a sequencer thread plus a few readers, so nothing fancier
//! is needed, and it keeps the dependency set small.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

pub struct Pool<C> {
    idle: Mutex<Vec<C>>,
    max_idle: usize,
}

impl<C> Pool<C> {
    pub fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// Take an idle connection, or make one with `make`.
    pub fn get<E>(&self, make: impl FnOnce() -> Result<C, E>) -> Result<Pooled<'_, C>, E> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => make()?,
        };
        Ok(Pooled {
            pool: self,
            conn: Some(conn),
            broken: false,
        })
    }
}

pub struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
    broken: bool,
}

impl<C> Pooled<'_, C> {
    /// Drop this connection instead of returning it (after an I/O error).
    pub fn discard(&mut self) {
        self.broken = true;
    }
}

impl<C> Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().expect("present until drop")
    }
}

impl<C> DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("present until drop")
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if !self.broken {
                let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < self.pool.max_idle {
                    idle.push(c);
                }
            }
        }
    }
}
