//! Plain-text tables for `zonerw check` and `zonerw status`.

/// Left-aligned columns separated by two spaces; the last column is not padded.
#[must_use]
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn columns_line_up_and_the_last_is_not_padded() {
        let rows = [
            ["POOL", "SERVER", "REASON"].map(String::from),
            ["web", "main", "HTTP 200"].map(String::from),
            ["mail-pool", "b", ""].map(String::from),
        ];
        assert_eq!(
            table(&rows),
            "POOL       SERVER  REASON\nweb        main    HTTP 200\nmail-pool  b\n"
        );
    }
}
