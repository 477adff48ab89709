//! picket-sentinel: the Redis-Sentinel-compatible supervisor. Not built yet (issue 3);
//! the binary exists so the workspace layout is the final one.
fn main() {
    eprintln!("picket-sentinel is not built yet: see issue 3");
    std::process::exit(1);
}
