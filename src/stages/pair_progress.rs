//! Progress of reading a sample's FASTQ lanes, counted in read pairs (`align`, `fastq_intake`).
//! The total is estimated from the bytes read so far against the sum of the files' sizes:
//! pairs done × all bytes / bytes read, refined at every batch, exact once the last lane ends.
//! Where a file has no size (a pipe) the total stays unknown and the display shows the count.

use crate::console::progress::Tracker;
use crate::engine::stage::StageContext;
use crate::reads::PairedFastqReader;
use crate::samples::Sample;

pub(super) struct PairProgress {
    tracker: Tracker,
    /// R1 + R2 sizes over all lanes; 0 when any is unknown.
    all_bytes: u64,
    /// Bytes and pairs of the lanes already finished.
    earlier_bytes: u64,
    earlier_pairs: u64,
}

impl PairProgress {
    /// Starts the display `<stage> <sample>` for every lane of `sample`; a silent one where
    /// `visible` is false (MPI ranks other than 0).
    pub fn start(ctx: &StageContext<'_>, sample: &Sample, visible: bool) -> PairProgress {
        let tracker = if visible {
            Tracker::start(format!("{} {}", ctx.stage_name, sample.name), "read pairs")
        } else {
            Tracker::silent()
        };
        let sizes: Option<Vec<u64>> = sample
            .lanes
            .iter()
            .flat_map(|l| [&l.fastq_1, &l.fastq_2])
            .map(|p| std::fs::metadata(p).ok().filter(|m| m.is_file()).map(|m| m.len()))
            .collect();
        let all_bytes = sizes.map_or(0, |s| s.iter().sum::<u64>());
        PairProgress { tracker, all_bytes, earlier_bytes: 0, earlier_pairs: 0 }
    }

    /// After a batch of the lane `reader` reads.
    pub fn update(&self, reader: &PairedFastqReader<'_>) {
        let (lane_bytes, _) = reader.input_progress();
        let done = self.earlier_pairs + reader.pairs_read();
        let read = self.earlier_bytes + lane_bytes;
        if self.all_bytes > 0 && read > 0 {
            let estimate = (u128::from(done) * u128::from(self.all_bytes) / u128::from(read)) as u64;
            self.tracker.set_estimated_total(estimate.max(done));
        }
        self.tracker.set_done(done);
    }

    /// After the lane `reader` reads has ended (every batch taken).
    pub fn lane_done(&mut self, reader: &PairedFastqReader<'_>) {
        self.earlier_bytes += reader.input_progress().0;
        self.earlier_pairs += reader.pairs_read();
    }

    /// After the last lane: the total is the count.
    pub fn finish(&self) {
        self.tracker.set_total(self.earlier_pairs);
        self.tracker.set_done(self.earlier_pairs);
    }
}
