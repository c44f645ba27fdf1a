//! User-defined enum types as catalog objects: their definitions ([`EnumDef`], kept in
//! [`CatalogState::enums`]), their WAL-logged changes ([`EnumChange`], carried by
//! `CatalogChange::Enum`, tag 40), their part of the checkpoint image, and the OID
//! pair a new enum takes ([`Engine::new_enum_oids`]).
//!
//! # Invariants
//!
//! - An enum type's OID is even and its array type's OID is the next (odd) one, so
//!   `DataType::from_oid` tells an enum from an enum array without the catalog. Both
//!   OIDs are taken from the catalog's counter at once; redo bumps the counter past
//!   both.
//! - A label's sort position (`pg_enum.enumsortorder`) never changes once given:
//!   `ALTER TYPE … ADD VALUE` places a new label after the last one (`n + 1`) or
//!   halfway between two neighbours. Stored `Value::Enum`s carry their position, so
//!   rows written before an ADD VALUE still sort right.
//! - Every change replaces or removes a whole definition ([`EnumChange::Set`],
//!   [`EnumChange::Drop`]): redo of a logged change gives exactly the state the
//!   running server had, and undo restores the previous definition.
//!
//! What this module must never do: parse SQL or decide SQL-level rules (duplicate
//! labels, dependent columns — `sql::enums` checks those before logging), or change
//! state outside [`apply`]/[`undo`].

use super::schema::{put_str, put_u32, put_u64, CatalogState};
use super::Engine;
use crate::error::Result;
use crate::types::Reader;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An enum type, as `pg_type` and `pg_enum` describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDef {
    /// The database the type belongs to.
    pub db: u32,
    /// The type's OID (even; its array type is `oid + 1`).
    pub oid: u32,
    /// The owning schema's OID.
    pub schema: u32,
    /// The type's name (case-folded as written).
    pub name: String,
    /// The owner's role OID.
    pub owner: u32,
    /// The labels with their sort positions, in sort order.
    pub labels: Vec<(String, f64)>,
}

/// The enum types of all databases, by type OID (OIDs are unique in the cluster).
pub type EnumMap = BTreeMap<u32, Arc<EnumDef>>;

/// One WAL-logged change of an enum type.
#[derive(Debug, Clone, PartialEq)]
pub enum EnumChange {
    /// Creates or replaces an enum type (CREATE TYPE, ALTER TYPE … ADD VALUE).
    Set(EnumDef),
    /// Drops an enum type.
    Drop {
        /// The type's OID.
        oid: u32,
    },
}

/// What reverts one applied [`EnumChange`]: the type's previous definition (None: it
/// did not exist).
#[derive(Debug, Clone)]
pub struct EnumUndo {
    oid: u32,
    old: Option<Arc<EnumDef>>,
}

/// Applies a change to the catalog; returns what undoes it.
pub fn apply(cat: &mut CatalogState, c: &EnumChange) -> Option<EnumUndo> {
    if let EnumChange::Set(def) = c {
        cat.bump_oid(def.oid + 1);
    }
    let map = Arc::make_mut(&mut cat.enums);
    match c {
        EnumChange::Set(def) => {
            let old = map.insert(def.oid, Arc::new(def.clone()));
            Some(EnumUndo { oid: def.oid, old })
        }
        EnumChange::Drop { oid } => {
            let old = map.remove(oid);
            Some(EnumUndo { oid: *oid, old })
        }
    }
}

/// Reverts a change with what [`apply`] returned.
pub fn undo(cat: &mut CatalogState, u: EnumUndo) {
    let map = Arc::make_mut(&mut cat.enums);
    match u.old {
        Some(d) => {
            map.insert(u.oid, d);
        }
        None => {
            map.remove(&u.oid);
        }
    }
}

impl EnumChange {
    /// Encodes the change's fields (the tag byte is written by `CatalogChange`).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            EnumChange::Set(d) => {
                out.push(1);
                put_u32(out, d.db);
                put_u32(out, d.oid);
                put_u32(out, d.schema);
                put_str(out, &d.name);
                put_u32(out, d.owner);
                put_u32(out, d.labels.len() as u32);
                for (l, s) in &d.labels {
                    put_str(out, l);
                    put_u64(out, s.to_bits());
                }
            }
            EnumChange::Drop { oid } => {
                out.push(2);
                put_u32(out, *oid);
            }
        }
    }

    /// Decodes what [`encode`](Self::encode) wrote.
    pub fn decode(r: &mut Reader<'_>) -> Result<EnumChange> {
        Ok(match r.u8()? {
            1 => {
                let db = r.u32()?;
                let oid = r.u32()?;
                let schema = r.u32()?;
                let name = r.string()?;
                let owner = r.u32()?;
                let n = r.u32()?;
                let mut labels = Vec::new();
                for _ in 0..n {
                    let l = r.string()?;
                    labels.push((l, f64::from_bits(r.u64()?)));
                }
                EnumChange::Set(EnumDef {
                    db,
                    oid,
                    schema,
                    name,
                    owner,
                    labels,
                })
            }
            2 => EnumChange::Drop { oid: r.u32()? },
            t => {
                return Err(crate::err!(
                    crate::error::sqlstate::DATA_CORRUPTED,
                    "unknown enum change tag {t}"
                ))
            }
        })
    }

    /// A one-line description for WAL dumps and tests.
    pub fn describe(&self) -> String {
        match self {
            EnumChange::Set(d) => format!(
                "SET ENUM db {} oid {} name {} labels {}",
                d.db,
                d.oid,
                d.name,
                d.labels.len()
            ),
            EnumChange::Drop { oid } => format!("DROP ENUM oid {oid}"),
        }
    }
}

/// Appends the enum types to a catalog image.
pub fn encode_image(cat: &CatalogState, out: &mut Vec<u8>) {
    put_u32(out, cat.enums.len() as u32);
    for d in cat.enums.values() {
        EnumChange::Set((**d).clone()).encode(out);
    }
}

/// Reads what [`encode_image`] wrote (nothing, in an image from before enums).
pub fn decode_image(cat: &mut CatalogState, r: &mut Reader<'_>) -> Result<()> {
    if r.remaining().is_empty() {
        return Ok(());
    }
    let n = r.u32()?;
    for _ in 0..n {
        let c = EnumChange::decode(r)?;
        apply(cat, &c);
    }
    Ok(())
}

impl Engine {
    /// Hands out the OID pair of a new enum type: an even OID for the type, the next
    /// one for its array type.
    pub fn new_enum_oids(&self) -> u32 {
        let mut st = self.lock();
        let cat = &mut st.store.catalog;
        if !cat.next_oid.is_multiple_of(2) {
            cat.next_oid += 1;
        }
        let oid = cat.new_oid();
        cat.bump_oid(oid + 1);
        oid
    }

    /// The enum types of a database (a shared snapshot: cheap to take).
    pub fn enum_types(&self) -> Arc<EnumMap> {
        self.with_catalog(|c| c.enums.clone())
    }
}
