use crate::genome::Contig;
pub struct Record;
pub fn contig() -> Contig { Contig }

#[cfg(test)]
mod tests;

#[cfg(test)]
fn helper() -> crate::call::Called { todo!() }

mod inline {
    #[cfg(all(test, unix))]
    use crate::engine::stage::Stage;
    pub fn fail() -> crate::outcome::Failure { crate::outcome::Failure::BadInput }
}

impl Record {
    #[cfg(test)]
    fn probe() -> crate::call::Called {
        todo!()
    }
}

#[cfg(test)]
mod inline_tests {
    use crate::engine::stage::Stage;
}
