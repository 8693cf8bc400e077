//! Forbidden: full paths in expressions (lines 3-4), a type (line 6) and a macro body (line 7).
pub fn header(sex: &str) -> String {
    let date = crate::engine::report::now_epoch();
    let code = crate::engine::report::utc_timestamp(date);
    let _ = sex;
    let _sex: Option<super::super::engine::samplesheet::Sex> = None;
    format!("{code} {}", crate::cli::exit::FAILURE)
}
