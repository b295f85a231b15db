//! Prints a greeting and the SHA-256-free checksum of its arguments: a small program whose
//! binary is built inside an enclave and compared byte for byte across builds.

fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let joined = args.join(" ");
    println!("hello from rust-hello {}", env!("CARGO_PKG_VERSION"));
    if !joined.is_empty() {
        println!("fnv1a({joined:?}) = {:016x}", fnv1a(joined.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn fnv1a_of_empty_input_is_the_offset_basis() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
