//! The runtime: `_start`, the stack, the heap and the panic handler.

use core::{
    alloc::{GlobalAlloc, Layout},
    arch::global_asm,
    cell::UnsafeCell,
    fmt::Write,
};

use crate::io::{FD_STDERR, exit, write_all};

const STACK_BYTES: usize = 1 << 20;
/// The heap: memory is sparse in the VM, so unused heap costs nothing.
const HEAP_BYTES: usize = 256 << 20;

#[repr(C, align(16))]
struct Region<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: one hart, no threads.
unsafe impl<const N: usize> Sync for Region<N> {}

static STACK: Region<STACK_BYTES> = Region(UnsafeCell::new([0; STACK_BYTES]));
static HEAP: Region<HEAP_BYTES> = Region(UnsafeCell::new([0; HEAP_BYTES]));

global_asm!(
    ".section .text._start",
    ".globl _start",
    "_start:",
    "    la sp, {stack}",
    "    li t0, {size}",
    "    add sp, sp, t0",
    "    call {start}",
    stack = sym STACK,
    size = const STACK_BYTES,
    start = sym start,
);

unsafe extern "Rust" {
    /// The program's main, declared with [`crate::entry!`].
    fn __loft_main() -> u8;
}

extern "C" fn start() -> ! {
    // SAFETY: `entry!` defines it with this signature.
    let code = unsafe { __loft_main() };
    exit(code)
}

/// A bump allocator: a fault-proof run is short, so memory is never given back.
struct Bump {
    next: UnsafeCell<usize>,
}

// SAFETY: one hart, no threads.
unsafe impl Sync for Bump {}

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = HEAP.0.get() as usize;
        // SAFETY: one hart: nothing else reads or writes `next` meanwhile.
        let next = unsafe { &mut *self.next.get() };
        let start = (base + *next).next_multiple_of(layout.align());
        let end = start.saturating_add(layout.size());
        if end > base + HEAP_BYTES {
            return core::ptr::null_mut();
        }
        *next = end - base;
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: Bump = Bump { next: UnsafeCell::new(0) };

/// A panic message's buffer (a panic must not allocate).
struct Message {
    buf: [u8; 512],
    len: usize,
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut m = Message { buf: [0; 512], len: 0 };
    let _ = writeln!(m, "panic: {info}");
    write_all(FD_STDERR, &m.buf[..m.len]);
    exit(2)
}
