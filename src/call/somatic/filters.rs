//! Filters from resources, applied to a pair's calls after calling: a panel of normals (a call
//! whose position, REF and ALT are in it is filtered `panel_of_normals`) and a population
//! allele-frequency resource (a call whose ALT is more common than `max_population_af` there is
//! filtered `germline`), as Mutect2 users know them. Both are looked up per call through their
//! index ([`SiteResource`]), so a genome-wide resource costs no memory; cost per call: two index
//! lookups at most.

use crate::vcf::model::SomaticCall;
use crate::vcf::sites::{SiteResource, SitesError};
use std::path::Path;

/// The resources a pair's calls are filtered with (none by default).
pub struct ResourceFilters {
    panel_of_normals: Option<SiteResource>,
    population: Option<SiteResource>,
    max_population_af: f64,
}

impl ResourceFilters {
    /// Opens the resources that are given.
    pub fn open(
        panel_of_normals: Option<&Path>,
        population: Option<&Path>,
        max_population_af: f64,
    ) -> Result<Self, SitesError> {
        Ok(ResourceFilters {
            panel_of_normals: panel_of_normals.map(SiteResource::open).transpose()?,
            population: population.map(SiteResource::open).transpose()?,
            max_population_af,
        })
    }

    /// Adds `panel_of_normals` and `germline` to the calls' filters where the resources say so
    /// (filters stay sorted and unique). `contig` names a call's contig by its `tid`.
    pub fn apply<'a>(&mut self, calls: &mut [SomaticCall], contig: impl Fn(u32) -> &'a str) -> Result<(), SitesError> {
        for c in calls {
            let name = contig(c.tid);
            if let Some(pon) = self.panel_of_normals.as_mut()
                && pon.lookup(name, c.pos, &c.ref_allele, &c.alt_allele)?.is_some()
            {
                c.filters.push("panel_of_normals".into());
            }
            if let Some(population) = self.population.as_mut()
                && population
                    .lookup(name, c.pos, &c.ref_allele, &c.alt_allele)?
                    .flatten()
                    .is_some_and(|af| f64::from(af) > self.max_population_af)
            {
                c.filters.push("germline".into());
            }
            c.filters.sort();
            c.filters.dedup();
        }
        Ok(())
    }

    /// Adds the header definitions of the filters these resources can set to `filters` (kept
    /// sorted). `germline` is declared by the caller already.
    pub fn declare(&self, filters: &mut Vec<(String, String)>) {
        if self.panel_of_normals.is_some() {
            filters.push(("panel_of_normals".into(), "The site and ALT are in the panel of normals".into()));
            filters.sort();
        }
    }
}

/// Sorts a pair's calls into reference order (position, then alleles): shards are in order, but a
/// shard's last calls may lie past its core.
pub fn sort_calls(calls: &mut [SomaticCall]) {
    calls.sort_by(|a, b| {
        (a.tid, a.pos, &a.ref_allele, &a.alt_allele).cmp(&(b.tid, b.pos, &b.ref_allele, &b.alt_allele))
    });
}
