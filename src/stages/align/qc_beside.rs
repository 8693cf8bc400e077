//! Alignment QC beside the BAM writer: the write loop hands each record, in write order, to one
//! QC thread in batches, so the QC pass (counts, insert sizes, coverage) overlaps the merge and
//! the compression instead of adding to the write thread. One observer seeing the same records in
//! the same order: the report is the one observing inline gives.
//!
//! Cost: a copy of every record (its data block) and at most [`QUEUED`] + 2 batches of
//! [`BATCH`] records in memory.

use crate::engine::stage::StageError;
use crate::qc::alignment::AlignmentQc;
use crossbeam_channel::{Sender, bounded};
use rust_htslib::bam::Record;
use std::thread::JoinHandle;

/// Records per batch handed to the QC thread.
const BATCH: usize = 4096;
/// Batches queued before the writer waits for the QC thread.
const QUEUED: usize = 8;

pub(super) struct QcBeside {
    batch: Vec<Record>,
    tx: Option<Sender<Vec<Record>>>,
    handle: Option<JoinHandle<AlignmentQc>>,
}

impl QcBeside {
    /// Starts the QC thread around `qc`.
    pub fn start(qc: AlignmentQc) -> Result<QcBeside, StageError> {
        let (tx, rx) = bounded::<Vec<Record>>(QUEUED);
        // Through `accounting`, so that its CPU is charged to the align stage.
        let handle = crate::accounting::spawn("alignment-qc", move || {
            let mut qc = qc;
            for batch in rx {
                for record in &batch {
                    qc.observe(record);
                }
            }
            qc
        })
        .map_err(|e| StageError::runtime(format!("cannot start the alignment QC thread: {e}")))?;
        Ok(QcBeside { batch: Vec::with_capacity(BATCH), tx: Some(tx), handle: Some(handle) })
    }

    /// The next record in write order.
    pub fn observe(&mut self, record: &Record) {
        self.batch.push(record.clone());
        if self.batch.len() == BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(tx) = &self.tx {
            // A send fails only when the thread has died (a panic); `finish` reports it.
            let _ = tx.send(batch);
        }
    }

    /// Waits for the QC thread to take every record and returns its collector.
    pub fn finish(mut self) -> Result<AlignmentQc, StageError> {
        self.send();
        drop(self.tx.take());
        let handle = self.handle.take().ok_or_else(|| StageError::runtime("internal: alignment QC finished twice"))?;
        handle.join().map_err(|_| StageError::runtime("the alignment QC thread panicked"))
    }
}

impl Drop for QcBeside {
    fn drop(&mut self) {
        // On an error path: close the queue so the thread ends, and wait for it.
        drop(self.tx.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qc::alignment::ContigTerritory;

    fn record(i: i64) -> Record {
        let mut r = Record::new();
        let cigar = rust_htslib::bam::record::CigarString(vec![rust_htslib::bam::record::Cigar::Match(10)]);
        r.set(format!("r{i}").as_bytes(), Some(&cigar), b"ACGTACGTAC", &[35; 10]);
        r.set_tid(0);
        r.set_pos(i * 3);
        r.set_mapq(60);
        r.set_flags(0x1 | 0x2 | if i % 2 == 0 { 0x40 | 0x20 } else { 0x80 | 0x10 });
        r.set_mtid(0);
        r.set_mpos(i * 3 + 100);
        r.set_insert_size(if i % 2 == 0 { 110 } else { -110 });
        r
    }

    #[test]
    fn beside_the_writer_the_report_is_the_inline_one() {
        let territory = || vec![ContigTerritory::without_n("c1", 100_000)];
        let records: Vec<Record> = (0..(3 * BATCH as i64 + 17)).map(record).collect();
        let mut inline = AlignmentQc::new(territory());
        let mut beside = QcBeside::start(AlignmentQc::new(territory())).unwrap();
        for r in &records {
            inline.observe(r);
            beside.observe(r);
        }
        let (inline, beside) = (inline.finish(), beside.finish().unwrap().finish());
        assert_eq!(inline, beside);
        assert_eq!(beside.total_reads, records.len() as u64);
    }
}
