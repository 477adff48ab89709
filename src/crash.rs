//! The crash report: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT the process writes Redis's
//! bug-report block (the signal, who sent it, `------ STACK TRACE ------` with the threads'
//! backtrace) to its log, then dies of the same signal, as redis-server does; a Rust panic
//! writes the same block through the logger. Without it a crash left nothing in the log.
//!
//! The signal handler writes with `write(2)` from a buffer on its stack. The backtrace itself
//! allocates, which is not async-signal-safe: an alarm of a few seconds bounds the handler, so
//! a crash inside the allocator still ends the process.

use std::sync::atomic::{AtomicI32, Ordering};

/// Where the report goes: the log file's descriptor, standard output by default.
static LOG_FD: AtomicI32 = AtomicI32::new(1);

const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGABRT,
];

/// Installs the handlers (once, at start-up), reporting to `fd`.
pub fn install(fd: i32) {
    LOG_FD.store(fd, Ordering::Relaxed);
    for sig in SIGNALS {
        // SAFETY: a zeroed sigaction is valid; the handler only uses what it documents.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let bt = std::backtrace::Backtrace::force_capture();
        tracing::warn!(
            "\n\n=== PICKET BUG REPORT START: Cut & paste starting from here ===\n{info}\n\n------ STACK TRACE ------\n{bt}\n=== PICKET BUG REPORT END. Make sure to include from START to END. ===\n"
        );
        default(info);
    }));
}

/// A line buffer on the stack, written with `write(2)`.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line {
            buf: [0; 512],
            len: 0,
        }
    }

    fn push(&mut self, b: &[u8]) -> &mut Line {
        let n = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        self
    }

    fn num(&mut self, mut v: i64) -> &mut Line {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let neg = v < 0;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10).unsigned_abs() as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        if neg {
            self.push(b"-");
        }
        self.push(&digits[i..])
    }

    fn emit(&mut self) {
        self.push(b"\n");
        let fd = LOG_FD.load(Ordering::Relaxed);
        // SAFETY: writing our own initialised buffer to a descriptor.
        unsafe { libc::write(fd, self.buf.as_ptr().cast(), self.len) };
        self.len = 0;
    }
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: alarm and getpid are async-signal-safe.
    unsafe { libc::alarm(5) };
    let pid = std::process::id() as i64;
    let mut l = Line::new();
    l.emit();
    l.push(b"=== PICKET BUG REPORT START: Cut & paste starting from here ===")
        .emit();
    l.num(pid)
        .push(b":M # Picket ")
        .push(env!("CARGO_PKG_VERSION").as_bytes());
    l.push(b" (Redis 7.0.15 compatible) crashed by signal: ")
        .num(sig as i64);
    if !info.is_null() {
        // SAFETY: the kernel hands a valid siginfo with SA_SIGINFO.
        let (code, from, uid) = unsafe { ((*info).si_code, (*info).si_pid(), (*info).si_uid()) };
        l.push(b", si_code: ").num(code as i64).emit();
        if code == libc::SI_USER || code == libc::SI_TKILL {
            l.num(pid).push(b":M # Killed by PID: ").num(from as i64);
            l.push(b", UID: ").num(uid as i64).emit();
        }
    } else {
        l.emit();
    }
    l.emit();
    l.push(b"------ STACK TRACE ------").emit();
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let fd = LOG_FD.load(Ordering::Relaxed);
    // SAFETY: writing an initialised buffer.
    unsafe { libc::write(fd, bt.as_ptr().cast(), bt.len()) };
    l.emit();
    l.push(b"=== PICKET BUG REPORT END. Make sure to include from START to END. ===")
        .emit();
    // The handler was reset to the default action: dying of the signal as expected.
    // SAFETY: raise is async-signal-safe.
    unsafe { libc::raise(sig) };
}
