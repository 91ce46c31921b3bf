//! Fuzz `Config::parse`: it must never panic, and every error is a config error (exit
//! status 2) that names the file and, when it gives `FILE:LINE:COL`, a line of the text.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use zonerw::config::Config;
use zonerw::error::Error;

const PATH: &str = "/etc/zonerw/zonerw.toml";

fuzz_target!(|text: &str| {
    let Err(error) = Config::parse(text, Path::new(PATH)) else {
        return;
    };
    assert_eq!(error.exit_code(), 2, "{error}");
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    let message = error.to_string();
    let rest = message
        .strip_prefix(PATH)
        .expect("the error names the file");
    if let Some(position) = rest.strip_prefix(':') {
        let mut numbers = position.split(':').take(2).map(str::parse::<usize>);
        if let (Some(Ok(line)), Some(Ok(column))) = (numbers.next(), numbers.next()) {
            assert!((1..=text.split('\n').count()).contains(&line), "{message}");
            assert!(column >= 1, "{message}");
        }
    }
});
