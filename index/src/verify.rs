//! `verify`: every checksum and every cross-reference, in one O(file) pass.

use crate::error::{IndexError, Result};
use crate::format::{GROUP_RANKS, NO_NEIGHBOUR, NameEntry, Section};
use crate::index::TaxonIndex;

/// What a successful verification looked at.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// Sections whose checksum matched.
    pub sections: usize,
    /// Bytes checksummed.
    pub bytes: u64,
    /// Taxa whose cross-references were checked.
    pub taxa: usize,
    /// Taxa without an embedding.
    pub unembedded: usize,
}

impl TaxonIndex {
    /// Checks every section's CRC-32, then the tables' internal consistency
    /// (ids form a permutation, strings and names resolve, graph edges point at
    /// real taxa). The first problem found is returned as a `Corrupt` error.
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut bytes = 0;
        let sections = Section::in_version(self.header().version);
        for &s in sections {
            let e = self.header().section(s);
            let data = self.bytes(s);
            if crc32fast::hash(data) != e.crc32 {
                return Err(self.corrupt(format!("checksum mismatch in section {}", s.name())));
            }
            bytes += e.len;
        }
        self.check_padding()?;
        self.check_permutation()?;
        self.check_tables()?;
        self.check_graph()?;
        self.check_unembedded()?;
        Ok(VerifyReport {
            sections: sections.len(),
            bytes: bytes + crate::format::HEADER_LEN as u64,
            taxa: self.len(),
            unembedded: self.unembedded().len(),
        })
    }

    /// The taxa listed as without an embedding are sorted, in range and all-zero; every other
    /// vector is finite and of unit length.
    fn check_unembedded(&self) -> Result<()> {
        let ids = self.unembedded();
        if ids.windows(2).any(|w| w[0] >= w[1]) || ids.last().is_some_and(|&id| id as usize >= self.len()) {
            return Err(self.corrupt("the list of taxa without an embedding is not sorted or out of range".into()));
        }
        for id in 0..self.len() as u32 {
            let v = self.vector(crate::TaxonId(id))?;
            let norm = crate::dot_f32(&v, &v).sqrt();
            let listed = ids.binary_search(&id).is_ok();
            let ok = if listed { norm == 0.0 } else { norm.is_finite() && (norm - 1.0).abs() <= crate::UNIT_TOLERANCE };
            if !ok {
                return Err(self.corrupt(format!(
                    "taxon {id} has norm {norm} but is {}listed as without an embedding",
                    if listed { "" } else { "not " }
                )));
            }
        }
        Ok(())
    }

    fn corrupt(&self, problem: String) -> IndexError {
        IndexError::corrupt(self.path(), problem)
    }

    /// Bytes between sections are not under any checksum, so they must be zero.
    fn check_padding(&self) -> Result<()> {
        let mut pos = crate::format::HEADER_LEN as u64;
        for &s in Section::in_version(self.header().version) {
            let e = self.header().section(s);
            if self.raw(pos..e.offset).iter().any(|&b| b != 0) {
                return Err(self.corrupt(format!("non-zero padding before section {}", s.name())));
            }
            pos = e.offset + e.len;
        }
        if pos != self.map_len() {
            return Err(self.corrupt(format!("{} unexpected bytes after the last section", self.map_len() - pos)));
        }
        Ok(())
    }

    fn check_permutation(&self) -> Result<()> {
        let n = self.len();
        let (to_id, to_slot) = (self.u32s(Section::SlotToId), self.u32s(Section::IdToSlot));
        for (slot, &id) in to_id.iter().enumerate() {
            if id as usize >= n || to_slot[id as usize] as usize != slot {
                return Err(self.corrupt(format!("slot {slot} and taxon id {id} do not map to each other")));
            }
        }
        Ok(())
    }

    fn check_tables(&self) -> Result<()> {
        let strings = self.header().strings;
        for &s in self.u32s(Section::Lineages) {
            if s >= strings {
                return Err(self.corrupt(format!("lineage table refers to string {s} of {strings}")));
            }
        }
        for i in 0..strings {
            self.string(i)?;
        }
        let counts = self.header().groups;
        for (i, &g) in self.u32s(Section::Groups).iter().enumerate() {
            if g >= counts[i % GROUP_RANKS] {
                return Err(self.corrupt(format!(
                    "slot {} has group {g} at depth {}",
                    i / GROUP_RANKS,
                    i % GROUP_RANKS
                )));
            }
        }
        let names: &[NameEntry] = bytemuck::cast_slice(self.bytes(Section::Names));
        for (i, e) in names.iter().enumerate() {
            if e.name >= strings || e.rank > 6 {
                return Err(self.corrupt(format!("name entry {i} is out of range")));
            }
        }
        Ok(())
    }

    fn check_graph(&self) -> Result<()> {
        let n = self.len() as u32;
        let rows = self.header().graph_upper_rows;
        for &nb in self.u32s(Section::GraphBase).iter().chain(self.u32s(Section::GraphUpper)) {
            if nb != NO_NEIGHBOUR && nb >= n {
                return Err(self.corrupt(format!("graph edge to taxon slot {nb} of {n}")));
            }
        }
        for &start in self.u32s(Section::GraphUpperStart) {
            if start != NO_NEIGHBOUR && start >= rows {
                return Err(self.corrupt(format!("graph row {start} of {rows}")));
            }
        }
        Ok(())
    }
}
