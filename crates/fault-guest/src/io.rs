//! The VM's syscalls (Linux's RISC-V numbers): exit, read, write.

use core::arch::asm;

/// The preimage oracle's file descriptors and the output ones.
pub const FD_STDOUT: u32 = 1;
/// Standard error.
pub const FD_STDERR: u32 = 2;
/// Hints to the host.
pub const FD_HINT_WRITE: u32 = 4;
/// The current key's preimage stream.
pub const FD_PREIMAGE_READ: u32 = 5;
/// Where the key is written.
pub const FD_PREIMAGE_WRITE: u32 = 6;

/// Stops the machine with `code`.
pub fn exit(code: u8) -> ! {
    // SAFETY: the exit syscall never returns and touches no memory.
    unsafe { asm!("ecall", in("a7") 93u32, in("a0") code as u32, options(noreturn, nostack)) }
}

/// Writes `buf` to `fd`; returns how many bytes the VM took.
pub fn write(fd: u32, buf: &[u8]) -> usize {
    let ret: u32;
    // SAFETY: the VM only reads `buf.len()` bytes at `buf`.
    unsafe {
        asm!("ecall", in("a7") 64u32, inlateout("a0") fd => ret, in("a1") buf.as_ptr(), in("a2") buf.len(),
             options(nostack, readonly))
    };
    ret as usize
}

/// Reads into `buf` from `fd`; returns how many bytes the VM wrote (0 at the end).
pub fn read(fd: u32, buf: &mut [u8]) -> usize {
    let ret: u32;
    // SAFETY: the VM writes at most `buf.len()` bytes at `buf`.
    unsafe {
        asm!("ecall", in("a7") 63u32, inlateout("a0") fd => ret, in("a1") buf.as_mut_ptr(), in("a2") buf.len(),
             options(nostack))
    };
    ret as usize
}

/// Writes all of `buf` to `fd`.
pub fn write_all(fd: u32, mut buf: &[u8]) {
    while !buf.is_empty() {
        let n = write(fd, buf);
        if n == 0 || n > buf.len() {
            return;
        }
        buf = &buf[n..];
    }
}

/// Prints to stdout.
pub fn print(s: &str) {
    write_all(FD_STDOUT, s.as_bytes());
}
